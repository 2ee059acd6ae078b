"""The live page of a run (python mnist.py --watch): while mnist.py trains, a server on
127.0.0.1 shows the run as it goes, from what nn.train() hands its callbacks:

    GET  /              the page (watch.html)
    GET  /state         the step, the epoch, the last loss, the accuracies, each batch's
                        loss, each epoch's record (each layer's health: the doctor's
                        watch), the doctor's findings, whether paused or stopped (JSON)
    GET  /units         the first layer's units as pictures (what each looks for, now)
    GET  /mistakes      the surest mistakes on validation images, now
    POST /pause, /resume, /stop     stop ends training as Ctrl-C does: --save and
                                    --keep-best keep what they promise

The terminal prints as it does without --watch. Training waits while paused: nn.train asks
should_stop() after every batch, and the answer comes when play resumes.
"""
import threading
import time
from pathlib import Path

import numpy as np

import nn
from extras import log
from extras.images import png_uri
from extras.local_server import Handler, listen
from extras.report import weight_pictures

PAGE = Path(__file__).with_name("watch.html")
UNITS_SHOWN = 32            # first-layer units drawn
MISTAKES_SHOWN = 8
CHECKED_IMAGES = 1000       # validation images the surest mistakes are looked for among
CURVE_POINTS = 2000         # batch losses kept for the curve (averaged in pairs beyond)
FRESH_SECONDS = 2           # pictures and mistakes are computed at most this often


class LiveRun:
    """What the page shows of a run, filled by nn.train's callbacks (on_batch, on_epoch,
    should_stop) in the training thread and read by the server's threads."""

    def __init__(self, params, activation, X_val, val_labels, epochs):
        self.params, self.activation, self.epochs = params, activation, epochs
        self.X_val = None if X_val is None else X_val[:CHECKED_IMAGES]
        self.val_labels = None if val_labels is None else val_labels[:CHECKED_IMAGES]
        self.lock = threading.Lock()
        self.resumed = threading.Event()
        self.resumed.set()
        self.step, self.epoch, self.batch, self.loss = 0, 0, 0, None
        self.losses, self.every, self.records, self.history, self.findings = [], 1, [], [], []
        self.stop_asked, self.finished = False, False
        self.cached = {}

    def on_batch(self, epoch, batch, loss):
        with self.lock:
            self.step, self.epoch, self.batch, self.loss = self.step + 1, epoch, batch, loss
            if (self.step - 1) % self.every == 0:          # steps 1, 1 + every, ...
                self.losses.append([self.step, round(float(loss), 5)])
                if len(self.losses) > CURVE_POINTS:                # keep it bounded: halve
                    self.losses, self.every = self.losses[::2], self.every * 2

    def on_epoch(self, record):
        """An epoch's record from nn.train: kept whole for the doctor (the first holds the
        run's settings), without the settings for the page; the findings read anew."""
        findings = nn.diagnose(self.records + [record])
        with self.lock:
            self.records.append(record)
            self.history.append({key: value for key, value in record.items() if key != "settings"})
            self.findings = [{key: found[key] for key in ("check", "seen", "cause", "try")}
                             for found in findings]

    def should_stop(self, asked):
        """should_stop for nn.train: waits while the page has paused the run; True once the
        page asked to stop, or asked() (Ctrl-C) says so, paused or not."""
        while not self.resumed.wait(0.2):
            if asked():
                return True
        return self.stop_asked or asked()

    def finish(self):
        """Training is over: nothing waits on the page any more."""
        with self.lock:
            self.finished = True
        self.resumed.set()

    def state_json(self):
        with self.lock:
            last = self.history[-1] if self.history else {}
            return {"step": self.step, "epoch": self.epoch, "epochs": self.epochs,
                    "batch": self.batch, "loss": self.loss,
                    "train_accuracy": last.get("train_accuracy"),
                    "val_accuracy": last.get("val_accuracy"), "losses": self.losses,
                    "history": self.history, "findings": self.findings,
                    "paused": not self.resumed.is_set(), "stopped": self.stop_asked,
                    "finished": self.finished}

    def fresh(self, name, compute):
        """compute(), or its answer from less than FRESH_SECONDS ago (with the step then)."""
        at, step, answer = self.cached.get(name, (0, None, None))
        if time.monotonic() - at > FRESH_SECONDS or step is None:
            answer = {"step": self.step, **compute()}
            self.cached[name] = (time.monotonic(), self.step, answer)
        return answer

    def units_json(self):
        W1 = self.params["W1"]
        if W1.shape[0] != 28 * 28:
            return {"units": []}
        shown = np.arange(min(UNITS_SHOWN, W1.shape[1]))
        return {"units": [png_uri(picture) for picture in weight_pictures(W1.copy(), shown)]}

    def mistakes_json(self):
        if self.X_val is None:
            return {"mistakes": []}
        probs = nn.softmax(nn.outputs({key: value.copy() for key, value in self.params.items()},
                                      self.X_val, self.activation))
        said = probs.argmax(axis=1)
        wrong = np.flatnonzero(said != self.val_labels)
        wrong = wrong[np.argsort(-probs[wrong, said[wrong]])][:MISTAKES_SHOWN]
        images = np.clip(self.X_val[wrong].reshape(-1, 28, 28) * 255, 0, 255).astype(np.uint8)
        return {"checked": len(self.X_val), "wrong": int((said != self.val_labels).sum()),
                "mistakes": [{"picture": png_uri(image), "true": int(self.val_labels[k]),
                              "said": int(said[k]), "sure": round(float(probs[k, said[k]]), 4)}
                             for image, k in zip(images, wrong)]}


def start(params, activation, X_val, val_labels, epochs, port, should_stop, on_epoch):
    """A LiveRun and its server on 127.0.0.1:port, serving in a thread of its own; returns
    (run, should_stop, on_epoch, on_batch): mnist.py's own callbacks for nn.train with the
    page's added (the page's pause and stop, its curve and records)."""
    run = LiveRun(params, activation, X_val, val_labels, epochs)
    server = make_server(run, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log(f"watch the run at http://127.0.0.1:{server.server_address[1]}/")

    def on_epoch_too(record):
        on_epoch(record)
        run.on_epoch(record)
    return run, lambda: run.should_stop(should_stop), on_epoch_too, run.on_batch


def stay_up(run):
    """After the run: the page stays, showing it, until Ctrl-C."""
    run.finish()
    log("the run is over; its page stays up until Ctrl-C")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopped")


def make_server(run, port):
    page = PAGE.read_bytes()

    class WatchHandler(Handler):
        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/":
                return self.send(200, "text/html; charset=utf-8", page)
            if path == "/state":
                return self.answer(200, run.state_json())
            if path in ("/units", "/mistakes"):
                compute = run.units_json if path == "/units" else run.mistakes_json
                return self.answer(200, run.fresh(path, compute))
            self.answer(404, {"error": f"no page {self.path[:100]!r}; try / or /state"})

        def do_POST(self):
            if self.path == "/pause":
                run.resumed.clear()
            elif self.path == "/resume":
                run.resumed.set()
            elif self.path == "/stop":
                run.stop_asked = True
                run.resumed.set()                  # a paused run must wake to stop
            else:
                return self.answer(404, {"error": "POST to /pause, /resume or /stop"})
            self.answer(200, run.state_json())

    return listen(WatchHandler, port)
