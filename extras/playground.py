"""The playground: a small network learning a 2-D problem in front of you.

    python -m extras.playground [--port 8001]

then open http://127.0.0.1:8001/. Pick a problem (a circle, XOR, two gaussians, a spiral,
or your own CSV of x1, x2, label), the inputs, the layers and how they learn; press play.
Every step is nn.py's own: forward(), the loss, backward(), the doctor's watch, the
optimizer, run here by the server in the order nn.train(..., plain=True) runs them, so
"as code" trains the very same network. The page only draws what the server computed:

    GET  /               the page (playground.html)
    GET  /state          step, epoch, losses, accuracies, the doctor's findings (JSON)
    GET  /picture        the decision boundary and every unit's output over the plane, as
                         GRID x GRID grey levels (base64), and the weights; with the
                         state too (one request a frame)
    GET  /data           the points, training and test
    GET  /code           the few lines of Python that train the same network
    GET  /model          the trained network, as nn.save() writes it
    POST /settings       new settings (JSON; see DEFAULTS), the network made anew
    POST /csv            your own points: text, a row "x1,x2,label" each
    POST /play, /pause, /step, /reset
"""
import argparse
import base64
import csv
import io
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import nn
from extras.local_server import Handler, listen, serve_until_interrupted

PAGE = Path(__file__).with_name("playground.html")
PROBLEMS = ("circle", "xor", "gaussians", "spiral", "csv")
FEATURES = {"x1": lambda x1, x2: x1, "x2": lambda x1, x2: x2,
            "x1^2": lambda x1, x2: x1 * x1, "x2^2": lambda x1, x2: x2 * x2,
            "x1*x2": lambda x1, x2: x1 * x2,
            "sin(x1)": lambda x1, x2: np.sin(x1), "sin(x2)": lambda x1, x2: np.sin(x2)}
DEFAULTS = {"problem": "spiral", "noise": 0, "train_percent": 50, "points": 500,
            "features": ["x1", "x2", "sin(x1)", "sin(x2)"], "hidden": [8, 8],
            "activation": "tanh", "optimizer": "adam", "lr": 0.003, "batch_size": 10,
            "weight_decay": 0.0, "dropout": 0.0, "seed": 0}
MAX_LAYERS, MAX_UNITS = 6, 32
MAX_CSV_BYTES, MAX_CSV_ROWS = 1_000_000, 10_000
MAX_JSON_BYTES = 10_000
SPAN = 6.0          # the plane shown, [-SPAN, SPAN] in x1 and x2, as TensorFlow Playground
GRID = 40           # points a side at which the pictures are computed
STEP_SECONDS = 0.01 # training runs in slices this long, between which the page is answered


def main(argv=None):
    parser = argparse.ArgumentParser(description="A small network learning a 2-D problem, "
                                     "live, on a page at http://127.0.0.1:PORT/")
    parser.add_argument("--port", type=int, default=8001, help="(default: 8001)")
    args = parser.parse_args(argv)
    playground = Playground()
    threading.Thread(target=playground.run, daemon=True).start()
    return serve_until_interrupted(make_server(playground, args.port), "the playground")


# ---------------------------------------------------------------- the problems

def make_points(problem, n, noise, rng):
    """n points (n, 2) in [-SPAN, SPAN]^2 and their classes (n,), as TensorFlow
    Playground draws them; noise (0 to 50) moves each point by a Gaussian of noise/100
    of SPAN/3 (the 'noise' slider's percent)."""
    if problem == "circle":                  # class 1 inside radius 2.5, class 0 in a ring
        radius = np.concatenate([rng.uniform(0, 2.5, n // 2), rng.uniform(3.5, 5, n - n // 2)])
        angle = rng.uniform(0, 2 * math.pi, n)
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        labels = (radius < 3).astype(np.int64)
    elif problem == "xor":                   # the signs agree, or not
        points = rng.uniform(-5, 5, (n, 2))
        points += np.sign(points) * 0.3      # a little gap along the axes
        labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    elif problem == "gaussians":
        labels = rng.integers(0, 2, n)
        points = np.where(labels[:, None] == 1, 2.0, -2.0) + rng.standard_normal((n, 2))
    else:                                    # two spiral arms, half a turn apart
        labels = np.arange(n) % 2
        radius = np.linspace(0, 5, n)
        angle = 1.75 * 2 * math.pi * radius / 5 + math.pi * labels
        points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    points = points + rng.standard_normal(points.shape) * (noise / 100) * SPAN / 3
    return points, labels


def read_csv(text):
    """(points (n, 2), labels (n,), class names) from CSV text, a row "x1,x2,label" each
    (a first row of names is skipped); a ValueError saying what is wrong otherwise."""
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if rows and not is_number(rows[0][0]):
        rows = rows[1:]                                         # a header
    if not 4 <= len(rows) <= MAX_CSV_ROWS:
        raise ValueError(f"the CSV has {len(rows)} rows of data; give 4 to {MAX_CSV_ROWS:,}, "
                         f"each 'x1,x2,label'")
    for number, row in enumerate(rows, start=1):
        if len(row) != 3 or not (is_number(row[0]) and is_number(row[1])):
            raise ValueError(f"row {number} of the CSV is {','.join(row)[:60]!r}: each row must "
                             f"be two numbers and a label, 'x1,x2,label'")
    points = np.array([[float(row[0]), float(row[1])] for row in rows])
    names = sorted({row[2].strip() for row in rows})
    if len(names) < 2:
        raise ValueError(f"every row of the CSV has the label {names[0]!r}: a classifier needs "
                         f"two classes or more")
    if len(names) > 10:
        raise ValueError(f"the CSV has {len(names)} labels; the playground draws 10 at most")
    index = {name: k for k, name in enumerate(names)}
    return points, np.array([index[row[2].strip()] for row in rows]), names


def is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def dataset(settings, csv_points=None):
    """(X_train, y_train, X_test, y_test, scale): the settings' problem (or csv_points:
    points, labels) shuffled by the seed, split, and turned into the chosen features, each
    scaled to mean 0, std 1 by the training points' (scale: the (mean, std) used)."""
    rng = np.random.default_rng(settings["seed"])
    if settings["problem"] == "csv":
        points, labels = csv_points
        points = points + rng.standard_normal(points.shape) * (settings["noise"] / 100) * \
            points.std(axis=0)
    else:
        points, labels = make_points(settings["problem"], settings["points"], settings["noise"], rng)
    order = rng.permutation(len(points))
    points, labels = points[order], labels[order]
    n_train = max(2, min(len(points) - 1, round(len(points) * settings["train_percent"] / 100)))
    X = features(points, settings["features"])
    mean, std = X[:n_train].mean(axis=0), X[:n_train].std(axis=0) + 1e-8
    X = ((X - mean) / std).astype(np.float32)
    return X[:n_train], labels[:n_train], X[n_train:], labels[n_train:], (mean, std), points


def features(points, names):
    """The chosen features of points (n, 2): (n, len(names))."""
    return np.stack([FEATURES[name](points[:, 0], points[:, 1]) for name in names], axis=1)


def check_settings(settings, have_csv):
    """DEFAULTS updated with settings (a dict from the page), each checked; a ValueError
    that says which setting is wrong and what it may be."""
    if not isinstance(settings, dict):
        raise ValueError("send the settings as a JSON object")
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting {sorted(unknown)[0]!r}; the settings are "
                         f"{', '.join(DEFAULTS)}")
    new = dict(DEFAULTS, **settings)

    def number(name, low, high, whole=False):
        value = new[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (whole and value != int(value)) or not low <= value <= high:
            raise ValueError(f"{name} must be a{' whole' if whole else ''} number from {low} "
                             f"to {high}, got {value!r}")
        new[name] = int(value) if whole else float(value)

    if new["problem"] not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}")
    if new["problem"] == "csv" and not have_csv:
        raise ValueError("upload a CSV first (a row 'x1,x2,label' each)")
    for name, choices in (("activation", nn.ACTIVATIONS), ("optimizer", nn.OPTIMIZERS)):
        if new[name] not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}")
    if not isinstance(new["features"], list) or not new["features"] or \
            not all(name in FEATURES for name in new["features"]):
        raise ValueError(f"choose one input feature or more of {', '.join(FEATURES)}")
    new["features"] = [name for name in FEATURES if name in new["features"]]
    hidden = new["hidden"]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise ValueError(f"hidden must be a list of at most {MAX_LAYERS} layer sizes, got "
                         f"{str(hidden)[:40]}")
    for units in hidden:
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
            raise ValueError(f"a layer must have 1 to {MAX_UNITS} units, got {units!r}")
    number("noise", 0, 50)
    number("train_percent", 10, 90)
    number("points", 50, 2000, whole=True)
    number("lr", 1e-6, 10)
    number("batch_size", 1, 1000, whole=True)
    number("weight_decay", 0, 1)
    number("dropout", 0, 0.9)
    number("seed", 0, 2**31 - 1, whole=True)
    if new["weight_decay"] * new["lr"] >= 1:
        raise ValueError("lr * weight_decay must be below 1, or every weight flips sign")
    return new


# ---------------------------------------------------------------- the network learning

class Playground:
    """A network, its data and its training, one step at a time; every method takes the
    lock, so the training thread (run) and the page's requests take turns."""

    def __init__(self, settings=None):
        self.lock = threading.Lock()
        self.csv = None                         # (points, labels, names) of an upload
        self.playing = False
        self.steps_asked = 0
        self.configure(settings or {})

    def configure(self, settings):
        """New settings (checked), new data, a new network from the seed."""
        new = check_settings(settings, self.csv is not None)
        with self.lock:
            self.settings = new
            self.reset()

    def reset(self):
        """The network made anew from the seed; the data drawn anew (called locked)."""
        s = self.settings
        csv_points = self.csv[:2] if self.csv else None
        (self.X, self.y, self.X_test, self.y_test, self.scale,
         self.points) = dataset(s, csv_points)
        self.classes = int(max(self.y.max(), self.y_test.max())) + 1   # (both hold a point)
        self.rng = np.random.default_rng(s["seed"])
        self.sizes = [len(s["features"]), *s["hidden"], self.classes]
        self.init = "he" if s["activation"] in ("relu", "leaky_relu") else "glorot"
        self.params = nn.init_params(self.sizes, rng=self.rng, init=self.init)
        self.step_settings = {"momentum": 0.9, "nesterov": False} if s["optimizer"] == "sgd" \
            else {"beta1": 0.9}
        self.state, self.history, self.findings = {}, [], []
        self.step, self.batch, self.order = 0, 0, None
        self.batches = math.ceil(len(self.X) / s["batch_size"])
        self.watch = nn.new_watch(self.params, self.y, self.y_test, self.batches, dict(
            loss="cross_entropy", activation=s["activation"], optimizer=s["optimizer"],
            epochs=None, batch_size=s["batch_size"], lr=s["lr"], schedule="constant",
            final_lr=0.0, momentum=None, nesterov=None, beta1=None,
            weight_decay=s["weight_decay"], dropout=s["dropout"], augment=None,
            keep_best=False, patience=None))
        self.last_loss, self.error = None, None

    def train_step(self):
        """One batch, as nn.train(plain=True) runs it: forward, loss, backward, the doctor's
        look, the optimizer step; at an epoch's end, the history's record and findings."""
        s = self.settings
        if self.batch == 0:
            self.order = self.rng.permutation(len(self.X))
        batch = self.order[self.batch * s["batch_size"]:(self.batch + 1) * s["batch_size"]]
        X_batch, y_batch = self.X[batch], self.y[batch]
        with np.errstate(over="ignore", invalid="ignore"):
            logits, cache = nn.forward(self.params, X_batch, s["activation"], s["dropout"], self.rng)
            loss, dlogits = nn.softmax_cross_entropy(logits, y_batch)
            grads = nn.backward(self.params, cache, dlogits)
        nn.watch_batch(self.watch, self.params, grads, cache, loss, logits, y_batch,
                       len(self.history) + 1, self.batch, s["lr"])
        nn.OPTIMIZERS[s["optimizer"]](self.params, grads, self.state, s["lr"],
                                      weight_decay=s["weight_decay"], **self.step_settings)
        self.step, self.batch, self.last_loss = self.step + 1, self.batch + 1, loss
        if self.batch == self.batches:
            self.batch = 0
            validation = nn.evaluate(self.params, self.X_test, self.y_test,
                                     activation=s["activation"]) if len(self.X_test) else (None, None)
            epoch = len(self.history) + 1
            self.history.append(nn.end_epoch(self.watch, self.params, epoch, s["lr"], validation,
                                             epoch))
            if len(self.history) <= 10 or epoch % 10 == 0:      # the doctor's view, now
                self.findings = [{key: found[key] for key in ("check", "seen", "cause", "try")}
                                 for found in nn.diagnose(self.history)]

    def run(self):
        """The training thread: while playing (or asked for steps), train in slices of
        STEP_SECONDS, then let the page's requests in."""
        while True:
            if not (self.playing or self.steps_asked):
                time.sleep(0.01)
                continue
            with self.lock:
                started = time.perf_counter()
                try:
                    while time.perf_counter() - started < STEP_SECONDS:
                        self.train_step()
                        if self.steps_asked:
                            self.steps_asked -= 1
                            if not self.steps_asked and not self.playing:
                                break
                except FloatingPointError as error:             # diverged: the doctor says why
                    self.playing, self.steps_asked = False, 0
                    self.error = str(error)
            time.sleep(0.001)

    # ------------------------------------------------------------ what the page is sent

    def state_json(self):
        last = self.history[-1] if self.history else {}
        return {"step": self.step, "epoch": len(self.history), "playing": self.playing,
                "loss": self.last_loss, "train_loss": last.get("loss"),
                "test_loss": last.get("val_loss"), "train_accuracy": last.get("train_accuracy"),
                "test_accuracy": last.get("val_accuracy"),
                "curve": [[record["epoch"], record["loss"], record["val_loss"]]
                          for record in self.history[-400:]],
                "findings": self.findings, "error": self.error, "settings": self.settings,
                "sizes": self.sizes, "classes": self.classes,
                "class_names": self.csv[2] if self.settings["problem"] == "csv" else None}

    def picture_json(self):
        """Each unit's output and the network's answer at GRID x GRID points of the plane,
        as grey levels 0-255 (base64), with the weights for the links."""
        axis = np.linspace(-SPAN, SPAN, GRID)
        x1, x2 = np.meshgrid(axis, -axis)                       # row 0 is the top: x2 = SPAN
        plane = np.stack([x1.ravel(), x2.ravel()], axis=1)
        mean, std = self.scale
        inputs = ((features(plane, self.settings["features"]) - mean) / std).astype(np.float32)
        logits, cache = nn.forward(self.params, inputs, self.settings["activation"])
        probs = nn.softmax(logits)
        layers = [[grey(inputs[:, k], "inputs") for k in range(inputs.shape[1])]]
        for i in range(1, len(self.sizes) - 1):
            a = cache[f"a{i}"]
            layers.append([grey(a[:, k], self.settings["activation"]) for k in range(a.shape[1])])
        layers.append([grey(probs[:, k], "probability") for k in range(self.classes)])
        return {"step": self.step, "state": self.state_json(), "grid": GRID, "span": SPAN,
                "layers": layers,
                "answer": base64.b64encode(probs.argmax(axis=1).astype(np.uint8).tobytes()).decode(),
                "sureness": grey(probs.max(axis=1), "probability"),
                "class1": grey(probs[:, 1], "probability"),
                "weights": [np.round(self.params[f"W{i}"], 3).tolist()
                            for i in range(1, len(self.sizes))]}

    def data_json(self):
        n_train = len(self.y)
        return {"train": np.round(self.points[:n_train], 3).tolist(), "train_labels": self.y.tolist(),
                "test": np.round(self.points[n_train:], 3).tolist(), "test_labels": self.y_test.tolist()}

    def code(self):
        """The few lines of Python that train the same network from the same seed."""
        s, epochs = self.settings, len(self.history)
        source = (f'X_train, y_train, X_test, y_test, _, _ = dataset({settings_text(s)}' +
                  (', read_csv(open("my_points.csv").read())[:2])' if s["problem"] == "csv" else ")"))
        return (f"# the network the playground trained, {epochs} epochs, with nn.py alone; run it\n"
                f"# beside nn.py and extras/ (python this.py){' with your CSV as my_points.csv' if s['problem'] == 'csv' else ''}\n"
                f"import numpy as np\nimport nn\nfrom extras.playground import dataset, read_csv\n\n"
                f"{source}\n"
                f"rng = np.random.default_rng({s['seed']})\n"
                f"params = nn.init_params({self.sizes}, rng=rng, init={self.init!r})\n"
                f"history = nn.train(params, X_train, y_train, epochs={epochs}, "
                f"batch_size={s['batch_size']}, lr={s['lr']!r},\n"
                f"                   optimizer={s['optimizer']!r}, activation={s['activation']!r}, "
                f"weight_decay={s['weight_decay']!r}, dropout={s['dropout']!r},\n"
                f"                   X_val=X_test, targets_val=y_test, rng=rng, plain=True)\n"
                f"print(history[-1]['val_accuracy'] if history else 'no epoch trained yet')\n"
                f"for finding in nn.diagnose(history):\n"
                f"    print(finding['check'], finding['seen'], 'try', finding['try'])\n")

    def model_bytes(self):
        """The network as nn.save() writes it, with the features and their scaling."""
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "playground.npz")
            nn.save(path, self.params, self.settings["activation"],
                    features=self.settings["features"], feature_mean=self.scale[0].tolist(),
                    feature_std=self.scale[1].tolist(), epochs_completed=len(self.history))
            return Path(path).read_bytes()


def settings_text(settings):
    """The settings dataset() needs, as a Python dict literal."""
    keys = ("problem", "points", "noise", "train_percent", "features", "seed")
    return "{" + ", ".join(f"{key!r}: {settings[key]!r}" for key in keys) + "}"


def grey(values, kind):
    """values (GRID * GRID,) as base64 grey levels 0-255: probabilities and sigmoid as
    they are, tanh and the inputs from [-1, 1] and [-2, 2], relu's from 0 to its largest."""
    if kind in ("probability", "sigmoid"):
        low, high = 0.0, 1.0
    elif kind == "tanh":
        low, high = -1.0, 1.0
    elif kind == "inputs":
        low, high = -2.0, 2.0
    else:
        low, high = min(0.0, float(values.min())), max(float(values.max()), 1e-6)
    levels = np.clip((values - low) / (high - low) * 255, 0, 255)
    return base64.b64encode(np.rint(levels).astype(np.uint8).tobytes()).decode()


# ---------------------------------------------------------------- the server

def make_server(playground, port):
    """A server on 127.0.0.1:port (0: any free one) for the playground's page."""
    page = PAGE.read_bytes()

    class PlaygroundHandler(Handler):
        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/":
                return self.send(200, "text/html; charset=utf-8", page)
            answers = {"/state": playground.state_json, "/picture": playground.picture_json,
                       "/data": playground.data_json}
            with playground.lock:
                if path in answers:
                    return self.answer(200, answers[path]())
                if path == "/code":
                    return self.send(200, "text/plain; charset=utf-8", playground.code().encode())
                if path == "/model":
                    return self.send(200, "application/octet-stream", playground.model_bytes(),
                                     [("Content-Disposition", 'attachment; filename="playground.npz"')])
            self.answer(404, {"error": f"no page {self.path[:100]!r}; try / or /state"})

        def do_POST(self):
            try:
                if self.path == "/settings":
                    playground.configure(self.read_json(MAX_JSON_BYTES))
                elif self.path == "/csv":
                    upload_csv(playground, self.read_text(MAX_CSV_BYTES))
                elif self.path in ("/play", "/pause", "/step", "/reset"):
                    with playground.lock:
                        playground.playing = self.path == "/play"
                        if self.path == "/step":
                            playground.steps_asked += 1
                        if self.path == "/reset":
                            playground.reset()
                else:
                    return self.answer(404, {"error": "POST to /settings, /csv, /play, /pause, "
                                                      "/step or /reset"})
                with playground.lock:
                    self.answer(200, playground.state_json())
            except ValueError as error:
                self.answer(400, {"error": str(error).splitlines()[0]})

        def read_text(self, max_bytes):
            try:
                return self.read_body(max_bytes, "the file").decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("the file is not text (UTF-8): save it as CSV") from None

    return listen(PlaygroundHandler, port)


def upload_csv(playground, text):
    """Your own points: checked, kept, and trained on from now (problem 'csv')."""
    points, labels, names = read_csv(text)
    with playground.lock:
        old = playground.csv
        playground.csv = (points, labels, names)
    try:
        playground.configure(dict(playground.settings, problem="csv"))
    except ValueError:
        playground.csv = old
        raise


if __name__ == "__main__":
    sys.exit(main())
