"""mnist.py: teach nn.py's network to read handwritten digits, and show what it learned.

    python mnist.py                  # download MNIST once, train (~2.5 min on 2 cores), report
    python mnist.py --help           # every knob, with its default
    python mnist.py --epochs 1       # a quick smoke run
    python mnist.py --dataset fashion                  # Fashion-MNIST instead
    python mnist.py --mirror file:///path/to/folder    # offline, from a folder of the .gz files
    python mnist.py --save model.npz / --load model.npz

This file owns the data and the report; everything about the network (training loop,
metrics, saving) is nn.py's. The data is fetched from a list of mirrors, each file checked
by the SHA-256 of its decompressed bytes, and cached in --data-dir. 5,000 of the 60,000
training images are held out to choose settings by; the test set is used once, at the end.
"""
import argparse
import gzip
import hashlib
import http.client
import io
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

import nn

# ---------------------------------------------------------------- the datasets

FILES = {  # name: decompressed size in bytes, the same for MNIST and Fashion-MNIST
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}

DATASETS = {
    "mnist": {
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",  # last: it often refuses scripts
        ],
        "sha256": {  # of the decompressed files, so any faithful mirror passes
            "train-images-idx3-ubyte":
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte":
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte":
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte":
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        "classes": [str(digit) for digit in range(10)],
    },
    "fashion": {
        "mirrors": [
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ],
        "sha256": {
            "train-images-idx3-ubyte":
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte":
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte":
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte":
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"],
    },
}

GZIP_MAGIC = b"\x1f\x8b"


class DataError(Exception):
    """Data that could not be fetched or read; the message says what to do about it."""


def log(message):
    """Progress and warnings go to stderr, so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- reading files

def decompress(data, name, max_size):
    """Gunzip `data` if it is gzip, else return it as it is; refuse more than max_size bytes.

    The cap means a broken or hostile mirror cannot fill memory with a small 'gzip bomb'.
    """
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as file:
            raw = file.read(max_size + 1)
    except EOFError as error:
        raise DataError(f"{name}: the gzip data is truncated ({error})") from error
    except (OSError, gzip.BadGzipFile) as error:
        raise DataError(f"{name}: the gzip data is corrupt ({error})") from error
    if len(raw) > max_size:
        raise DataError(f"{name}: decompresses to more than the {max_size:,} bytes expected")
    return raw


def read_idx(data, name):
    """Parse an IDX file of unsigned bytes: images (N, rows, cols) or labels (N,).

    Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    then each dimension as a big-endian uint32, then the values. Everything must agree,
    or the error names the file and what is wrong.
    """
    if data.startswith(GZIP_MAGIC):
        raise DataError(f"{name}: this is gzip data, not IDX (is it still gzip-compressed?)")
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number {data[:4].hex()})")
    if data[2] != 0x08:
        raise DataError(f"{name}: IDX type code 0x{data[2]:02x} is not 0x08 (unsigned byte)")
    n_dims = data[3]
    header_size = 4 + 4 * n_dims
    if n_dims == 0 or len(data) < header_size:
        raise DataError(f"{name}: IDX header is truncated or has no dimensions")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=n_dims, offset=4))
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(f"{name}: IDX header says shape {shape}, which needs {expected:,} bytes,"
                        f" but the file has {len(data):,} (truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


# ---------------------------------------------------------------- fetching files

def download(url, timeout, max_bytes, show_progress):
    """The body of `url` as bytes, at most max_bytes of it, with a progress line on stderr."""
    request = urllib.request.Request(url, headers={"User-Agent": "nn.py-mnist/1.0"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        if total > max_bytes:
            raise DataError(f"the server offers {total:,} bytes, more than the file can be")
        chunks, received = [], 0
        while True:
            chunk = response.read(1 << 16)
            if not chunk:
                break
            received += len(chunk)
            if received > max_bytes:
                raise DataError(f"more than {max_bytes:,} bytes arrived; not this file")
            chunks.append(chunk)
            if show_progress:
                percent = f" {100 * received / total:5.1f}%" if total else ""
                print(f"\r  {url.rsplit('/', 1)[-1]}: {received / 1e6:6.1f} MB{percent}",
                      end="", file=sys.stderr, flush=True)
        if show_progress:
            print(file=sys.stderr)
    if total and received != total:
        raise DataError(f"the download stopped after {received:,} of {total:,} bytes")
    return b"".join(chunks)


def verify(data, name, sha256):
    """Raise DataError unless the SHA-256 of `data` is the expected one."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        start = data[:15].decode("ascii", "replace")
        raise DataError(f"{name}: checksum mismatch (SHA-256 {digest[:12]}..., expected "
                        f"{sha256[:12]}...; the data starts with {start!r})")


def write_atomically(path, data):
    """Write data to a temporary file beside path, then rename it into place: an
    interruption leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file_descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name,
                                                  suffix=".partial")
    try:
        with os.fdopen(file_descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a data file need not be
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def fetch(name, folder, mirrors, sha256, size, timeout=30.0, log=log):
    """The verified, decompressed bytes of the file `name`, from the cache or a mirror.

    The cache is `folder`: a file there named `name` or `name.gz` (ours, or one a user put
    there) is used if its content passes the checksum, and replaced if it does not. Else
    each mirror's `name.gz` is tried in turn; the first that passes is cached as `name`.
    Any failure of a mirror (refused, 404, HTML, truncated, wrong checksum) moves on to the
    next. Raises DataError listing every attempt when none works.
    """
    folder = Path(folder)
    stale = []
    for path in (folder / name, folder / (name + ".gz")):
        if path.is_file():
            try:
                data = decompress(path.read_bytes(), path.name, size)
                verify(data, path.name, sha256)
                return data
            except DataError as error:
                log(f"cached {path} is unusable ({error}); fetching it again")
                stale.append(path)
    failures = []
    show_progress = sys.stderr.isatty()
    for mirror in mirrors:
        url = mirror + name + ".gz"
        log(f"downloading {url}")
        try:
            data = download(url, timeout, max_bytes=size + (1 << 20), show_progress=show_progress)
            data = decompress(data, name + ".gz", size)
            verify(data, name, sha256)
        # URLError and HTTPError are OSErrors; IncompleteRead is an HTTPException
        except (OSError, ValueError, http.client.HTTPException, DataError) as error:
            failures.append(f"  {url}\n    {describe(error)}")
            log(f"  failed: {describe(error)}")
            continue
        write_atomically(folder / name, data)
        for path in stale:
            if path != folder / name:
                path.unlink()
        return data
    raise DataError(
        f"could not get {name}. Tried:\n" + "\n".join(failures) + "\n"
        f"To fix: pass --mirror URL (tried first): a web folder or file:///path/to/folder\n"
        f"holding the .gz files; or put {name} (or {name}.gz) into {folder}/ yourself.")


def describe(error):
    """A one-line reason for a failed download, without a traceback."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"{error.reason}"
    return str(error)


def load_dataset(dataset, data_dir, extra_mirrors=(), timeout=30.0, log=log):
    """Fetch and parse one dataset: a dict of uint8 images (N, 28, 28) and labels (N,)."""
    spec = DATASETS[dataset]
    folder = Path(data_dir) / dataset  # MNIST and Fashion share file names: keep them apart
    mirrors = [url if url.endswith("/") else url + "/" for url in extra_mirrors]
    mirrors += spec["mirrors"]
    arrays = {}
    for name, size in FILES.items():
        data = fetch(name, folder, mirrors, spec["sha256"][name], size, timeout, log)
        arrays[name] = read_idx(data, name)
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte"], arrays[f"{split}-labels-idx1-ubyte"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{split}: {images.shape} images do not match {labels.shape} labels")
    return {"train_images": arrays["train-images-idx3-ubyte"],
            "train_labels": arrays["train-labels-idx1-ubyte"],
            "test_images": arrays["t10k-images-idx3-ubyte"],
            "test_labels": arrays["t10k-labels-idx1-ubyte"]}


def as_inputs(images):
    """uint8 images (N, 28, 28) -> float32 rows (N, 784) scaled to [0, 1]."""
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= 255
    return X


# ---------------------------------------------------------------- reporting

SHADES = " .:-=+*#%@"  # dark to bright, one character per pixel


def draw(image):
    """A 28x28 uint8 image as 28 lines of characters, brighter pixels denser."""
    levels = (image.astype(np.int64) * len(SHADES)) // 256
    return ["".join(SHADES[level] for level in row) for row in levels]


def print_epoch(record, epochs):
    """One aligned line per epoch, comparable by eye across runs."""
    val = record["val_accuracy"]
    val_text = f"val {100 * val:6.2f}%" if val is not None else "val     -  "
    print(f"epoch {record['epoch']:3d}/{epochs}  loss {record['loss']:.4f}  "
          f"train {100 * record['train_accuracy']:6.2f}%  {val_text}  lr {record['lr']:.2e}  "
          f"{record['seconds']:5.1f} s  {record['samples_per_second']:7,.0f} img/s", flush=True)


def print_report(params, activation, X_test, labels, images, classes, n_shown):
    """Test accuracy, the confusion matrix with precision and recall, and the mistakes the
    network was surest of, drawn as text. Returns the test accuracy."""
    logits, _ = nn.forward(params, X_test, activation)
    probs = nn.softmax(logits)
    predictions = probs.argmax(axis=1)
    test_accuracy = nn.accuracy(labels, predictions)
    counts = nn.confusion_matrix(labels, predictions, len(classes))
    precision, recall = nn.precision_recall(counts)
    print(f"\ntest accuracy {100 * test_accuracy:.2f}% "
          f"({int(np.trace(counts)):,} of {len(labels):,} correct)\n")
    print("confusion matrix (rows: true class, columns: predicted)")
    print("true \\ pred " + "".join(f"{k:>6d}" for k in range(len(classes))) + "   recall  class")
    for k, row in enumerate(counts):
        cells = "".join(f"{count:6d}" for count in row)
        print(f"{k:>11d} {cells}  {100 * recall[k]:6.2f}%  {classes[k]}")
    print("  precision " + "".join(f"{100 * p:6.1f}" for p in precision) + "  (%)")

    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:n_shown]
    if len(wrong):
        print(f"\nthe {len(wrong)} mistakes it was surest of:")
    for start in range(0, len(wrong), 3):
        group = wrong[start:start + 3]
        for i in group:
            print(f"#{i}: true {classes[labels[i]]}, predicted {classes[predictions[i]]} "
                  f"with {100 * probs[i, predictions[i]]:.2f}% confidence")
        print("   ".join(f"{f'#{i}':<28s}" for i in group))
        rows = ["   ".join(line) for line in zip(*(draw(images[i]) for i in group))]
        inked = [i for i, row in enumerate(rows) if row.strip()]  # trim the blank margins
        print("\n".join(rows[inked[0]:inked[-1] + 1] if inked else rows))
    return test_accuracy


# ---------------------------------------------------------------- command line

def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def hidden_sizes(text):
    try:
        sizes = [int(size) for size in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be sizes separated by commas, like 512,256; "
                                         f"got {text!r}") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"every hidden size must be >= 1, got {text}")
    return sizes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a fully connected network (nn.py) on MNIST or Fashion-MNIST and "
                    "report what it learned.",
        epilog="Offline? Put the four .gz (or decompressed) files in --data-dir/DATASET/, or "
               "point --mirror at a folder holding them: --mirror file:///path/to/folder.")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASETS), default="mnist",
                      help="which dataset (default: %(default)s)")
    data.add_argument("--data-dir", default=str(Path(__file__).resolve().parent / "data"),
                      help="cache folder; each dataset gets its own subfolder "
                           "(default: data/ next to this script)")
    data.add_argument("--mirror", action="append", default=[], metavar="URL",
                      help="a folder URL serving the .gz files, tried before the built-in "
                           "mirrors; http(s):// or file://, repeatable (default: none)")
    data.add_argument("--timeout", type=positive_float, default=30.0, metavar="SECONDS",
                      help="time-out for each download request (default: %(default)s)")
    data.add_argument("--val-size", type=non_negative_int, default=5000,
                      help="training images held out for validation, taken from the end "
                           "(default: %(default)s)")
    model = parser.add_argument_group("network and training")
    model.add_argument("--hidden", type=hidden_sizes, default=[1024, 1024], metavar="SIZES",
                       help="hidden layer sizes, comma separated (default: 1024,1024)")
    model.add_argument("--activation", choices=list(nn.ACTIVATIONS), default="relu",
                       help="hidden layer activation (default: %(default)s)")
    model.add_argument("--optimizer", choices=list(nn.OPTIMIZERS), default="adam",
                       help="update rule (default: %(default)s)")
    model.add_argument("--epochs", type=positive_int, default=20,
                       help="passes over the training images (default: %(default)s)")
    model.add_argument("--batch-size", type=positive_int, default=128,
                       help="images per step (default: %(default)s)")
    model.add_argument("--lr", type=positive_float, default=1e-3,
                       help="starting learning rate (default: %(default)s)")
    model.add_argument("--schedule", choices=["constant", "linear", "cosine"], default="cosine",
                       help="how the learning rate falls to --final-lr over training "
                            "(default: %(default)s)")
    model.add_argument("--final-lr", type=non_negative_float, default=0.0,
                       help="learning rate at the end of a decaying schedule "
                            "(default: %(default)s)")
    model.add_argument("--momentum", type=probability, default=0.9,
                       help="momentum for --optimizer sgd, which does well with --lr 0.05 "
                            "(default: %(default)s)")
    model.add_argument("--dropout", type=probability, default=0.3,
                       help="probability of dropping each hidden unit while training "
                            "(default: %(default)s)")
    model.add_argument("--weight-decay", type=non_negative_float, default=0.0,
                       help="decoupled weight decay on the weights (default: %(default)s)")
    model.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed for the weights, the batch order and dropout "
                            "(default: %(default)s)")
    output = parser.add_argument_group("saving and reporting")
    output.add_argument("--save", metavar="PATH", help="save the trained network, with its settings and results, to an .npz "
                             "file (default: not saved)")
    output.add_argument("--load", metavar="PATH",
                        help="evaluate a network saved with --save instead of training one "
                             "(default: train a new one)")
    output.add_argument("--show", type=non_negative_int, default=6, metavar="N",
                        help="misclassified test images to draw (default: %(default)s)")
    return parser.parse_args(argv)


def install_interrupt_handler():
    """First Ctrl-C: finish the current batch, then stop and report. Second: quit now.

    Returns a function that says whether a stop was asked for, for nn.train's should_stop.
    """
    asked = []

    def on_interrupt(signal_number, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        print("\nstopping after this batch (press Ctrl-C again to quit at once)",
              file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_interrupt)
    return lambda: bool(asked)


def main(argv=None):
    args = parse_args(argv)
    spec = DATASETS[args.dataset]
    started = time.perf_counter()
    data = load_dataset(args.dataset, args.data_dir, args.mirror, args.timeout)
    X_test, test_labels = as_inputs(data["test_images"]), data["test_labels"].astype(np.int64)

    if args.load:
        params, info = nn.load(args.load)
        if info.get("dataset", args.dataset) != args.dataset:
            raise DataError(f"{args.load} was trained on {info['dataset']}; "
                            f"add --dataset {info['dataset']}")
        sizes = info["sizes"]
        if sizes[0] != X_test.shape[1] or sizes[-1] != len(spec["classes"]):
            raise DataError(f"{args.load} has sizes {sizes}; it needs 784 inputs, 10 outputs")
        print(f"loaded {args.load}: sizes {sizes}, activation {info['activation']}")
        print_report(params, info["activation"], X_test, test_labels, data["test_images"],
                     spec["classes"], args.show)
        return 0

    X_all, labels_all = as_inputs(data["train_images"]), data["train_labels"].astype(np.int64)
    n_train = len(X_all) - args.val_size
    if n_train < 1:
        raise DataError(f"--val-size {args.val_size} leaves no training images of {len(X_all)}")
    X_train, train_labels = X_all[:n_train], labels_all[:n_train]      # views, not copies
    X_val, val_labels = X_all[n_train:], labels_all[n_train:]
    if args.val_size == 0:
        X_val = val_labels = None
    sizes = [X_train.shape[1], *args.hidden, len(spec["classes"])]
    rng = np.random.default_rng(args.seed)
    init = "he" if args.activation in ("relu", "leaky_relu") else "glorot"
    params = nn.init_params(sizes, rng=rng, init=init)
    settings = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                "optimizer": args.optimizer, "momentum": args.momentum,
                "weight_decay": args.weight_decay, "activation": args.activation,
                "dropout": args.dropout, "schedule": args.schedule, "final_lr": args.final_lr}
    print(f"{args.dataset}: {n_train:,} training, {args.val_size:,} validation, "
          f"{len(X_test):,} test images; network {'-'.join(map(str, sizes))}, "
          f"{args.activation}, {args.optimizer}, seed {args.seed}")

    should_stop = install_interrupt_handler()
    history = nn.train(params, X_train, train_labels, X_val=X_val, targets_val=val_labels,
                       rng=rng, on_epoch=lambda record: print_epoch(record, args.epochs),
                       should_stop=should_stop, **settings)
    if should_stop():
        log(f"stopped early, after {len(history)} complete epochs; reporting the network "
            f"as it stands")
    signal.signal(signal.SIGINT, signal.default_int_handler)

    test_accuracy = print_report(params, args.activation, X_test, test_labels,
                                 data["test_images"], spec["classes"], args.show)
    val_accuracy = history[-1]["val_accuracy"] if history else None
    print(f"\ntotal time {time.perf_counter() - started:.1f} s")
    if args.save:
        digests = [f"{name} {digest}" for name, digest in spec["sha256"].items()]
        nn.save(args.save, params, args.activation, dataset=args.dataset, seed=args.seed,
                hidden=args.hidden, epochs_completed=len(history), data_sha256=digests,
                val_size=args.val_size, test_accuracy=test_accuracy,
                val_accuracy=np.nan if val_accuracy is None else val_accuracy,
                **{key: value for key, value in settings.items() if key != "activation"})
        print(f"saved the network to {args.save}")
    return 0


def run(argv=None):
    """main(), with expected failures turned into one readable message and an exit code."""
    try:
        return main(argv)
    except (DataError, FloatingPointError, ValueError, OSError) as error:
        print(f"mnist.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmnist.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(run())
