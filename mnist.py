"""mnist.py: teach nn.py's network to read handwritten digits, and show what it learned.

    python mnist.py                  # download MNIST once, train, report (a minute on 2 cores)
    python mnist.py --help           # every knob, with its default
    python mnist.py --epochs 1       # a quick smoke run
    python mnist.py --report report.html               # also a page of pictures of the run
    python mnist.py --doctor / --find-lr               # check the setup / find a learning rate
    python mnist.py --save model.npz                   # then: --load model.npz --predict my.png
    python mnist.py --dataset fashion                  # Fashion-MNIST instead
    python mnist.py --mirror /path/to/folder           # offline, from a folder of the .gz files

The story of a run is main(), just below; the helpers follow in the order it calls them,
and the plumbing (command line, downloads, PNG files, the report page) is an appendix at
the end. Everything about the network itself (training, metrics, the doctor, saving) is
nn.py's. 5,000 of the 60,000 training images are held out to choose settings by; the test
set is used once, at the end.
"""
import argparse
import base64
import difflib
import gzip
import hashlib
import html
import http.client
import http.server
import io
import json
import math
import os
import re
import shlex
import signal
import socket
import stat
import struct
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

import nn

DATASETS = {
    "mnist": {
        "classes": [str(digit) for digit in range(10)],
        "flips": False,  # a mirrored digit is not that digit (or any)
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
    },
    "fashion": {
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"],
        "flips": True,  # a mirrored shoe is still a shoe
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
    },
}


def main(argv=None):
    """The story of a run: the data, a network, training, the test set, the report."""
    args = parse_args(argv)
    if args.compare is not None:
        return compare_runs(args)              # the table of recorded runs, and no training
    if (args.predict or args.serve or args.number_test) and not args.load:
        flag = "--predict IMAGE" if args.predict else "--serve" if args.serve else "--number-test N"
        raise DataError(f"{flag.split()[0]} needs a saved network to ask: train and save one "
                        f"with 'python mnist.py --save model.npz', then 'python mnist.py "
                        f"--load model.npz {flag}'")
    if args.load:
        return use_saved_network(args)         # --predict, or the test set, with a saved one
    for path in (args.save, args.report):
        if path:
            check_writable(path)               # before training, not after it
    started = time.perf_counter()
    spec = DATASETS[args.dataset]
    data = load_dataset(args.dataset, args.data_dir, args.mirror, args.timeout)
    if args.runs:
        check_writable(args.runs)              # (its default folder exists only by now)
    busy_machine_hint()
    X_train, train_labels, X_val, val_labels = split_off_validation(data, args.val_size)
    sizes = [X_train.shape[1], *args.hidden, len(spec["classes"])]
    rng = np.random.default_rng(args.seed)
    init = "he" if args.activation in ("relu", "leaky_relu") else "glorot"
    params = nn.init_params(sizes, rng=rng, init=init)
    if args.find_lr:
        return run_find_lr(params, X_train, train_labels, args)
    if args.doctor:
        return run_doctor(params, X_train, train_labels, args)
    print(f"{args.dataset}: {len(X_train):,} training, {args.val_size:,} validation, "
          f"{len(data['test_labels']):,} test images; network {'-'.join(map(str, sizes))}, "
          f"{args.activation}, {args.optimizer} lr {args.lr:g}, augment {args.augment}"
          f"{' + mirror' if spec['flips'] else ''}, seed {args.seed}")

    augment = make_augment(args, spec["flips"])
    should_stop = install_interrupt_handler()
    epochs_done = []                           # for the runs file, should training fail
    try:
        history = nn.train(params, X_train, train_labels, X_val=X_val, targets_val=val_labels,
                           rng=rng, augment=augment, should_stop=should_stop,
                           on_epoch=lambda record: print_epoch(record, args.epochs,
                                                               epochs_done),
                           **training_settings(args))
    except FloatingPointError as error:        # diverged: a run worth comparing too
        if args.runs:
            record_run(args.runs, args, argv, epochs_done, None,
                       time.perf_counter() - started, failure=str(error))
        raise FloatingPointError(in_flags(str(error))) from error
    stopped = should_stop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not lose the network
    if stopped:
        log(f"stopped early during epoch {len(history) + 1}, after "
            f"{plural(len(history), 'complete epoch')}" + (
                "" if args.keep_best else f"; the network reported"
                f"{' and saved' if args.save else ''} includes the steps of the partial epoch"))
    print_ending(history, args)

    X_test, test_labels = as_inputs(data["test_images"]), data["test_labels"].astype(np.int64)
    probs = nn.softmax(nn.outputs(params, X_test, args.activation))       # (10000, 10)
    test_accuracy = nn.accuracy(test_labels, probs.argmax(axis=1))
    if args.save:
        judge = judge_for_reading(X_train, rng) if args.dataset == "mnist" else None
        save_network(args, params, history, test_accuracy, stopped, judge)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print_doctor(history, sizes, args)
    print_report(probs, test_labels, data["test_images"], spec["classes"], args.show)
    seconds = time.perf_counter() - started
    print(f"\ntotal time {seconds:.1f} s")
    if args.report:
        write_run_report(args, sizes, history, params, probs, data, X_train, test_accuracy,
                         seconds, stopped, augment)
    if args.runs:
        record_run(args.runs, args, argv, history, test_accuracy, seconds)
    return 0


def training_settings(args):
    """nn.train's settings from the command line's."""
    return {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "optimizer": args.optimizer, "momentum": args.momentum,
            "weight_decay": args.weight_decay, "activation": args.activation,
            "dropout": args.dropout, "schedule": args.schedule, "final_lr": args.final_lr,
            "keep_best": args.keep_best, "patience": args.patience}


def judge_for_reading(X_train, rng):
    """The reader's judge (train_judge), trained on the training digits X_train (N, 784),
    so that the saved network reads numbers better; Ctrl-C skips it."""
    log("training the reader's judge, which tells one whole digit from a piece or a pair "
        "(about a minute; Ctrl-C skips it)")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return train_judge(X_train.reshape(-1, 28, 28), rng, JUDGE_NUMBERS)
    except KeyboardInterrupt:
        log("skipped the judge: the network is saved without it, and reads numbers less well")
        return None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def save_network(args, params, history, test_accuracy, stopped, judge=None):
    """--save: the network, with what it was trained on, how, and how well it did, and
    its history (as JSON text), so that --load --report can draw its curves; and the
    reader's judge, if there is one, as arrays named judge_W1, judge_b1, ..."""
    val_accuracy = history[-1]["val_accuracy"] if history else None
    digests = [f"{name} {digest}" for name, digest in DATASETS[args.dataset]["sha256"].items()]
    settings = {key: value for key, value in training_settings(args).items()
                if key != "activation" and value is not None}
    nn.save(args.save, params, args.activation, dataset=args.dataset, seed=args.seed,
            hidden=args.hidden, epochs_completed=len(history), data_sha256=digests,
            val_size=args.val_size, test_accuracy=test_accuracy, augment=args.augment,
            val_accuracy=np.nan if val_accuracy is None else val_accuracy,
            stopped_early=stopped, history=json.dumps(history), **settings,
            **{f"judge_{key}": value for key, value in (judge or {}).items()})
    log(f"saved the network to {args.save}")


def write_run_report(args, sizes, history, params, probs, data, X_train, test_accuracy,
                     seconds, stopped, augment):
    """--report: the page of the run, with its settings and results at the top."""
    facts = run_facts(vars(args), sizes, args.activation, len(X_train), len(probs),
                      history, stopped, test_accuracy)
    facts.append(("time", f"{seconds:.1f} s"))
    samples = None
    if augment is not None:
        one = np.repeat(X_train[:1], 8, axis=0)
        samples = augment(one, np.random.default_rng(args.seed + 1)).reshape(-1, 28, 28)
    write_report(args.report, f"nn.py on {args.dataset}", facts, history, params, probs,
                 data["test_labels"].astype(np.int64), data["test_images"],
                 DATASETS[args.dataset]["classes"], samples)
    log(f"wrote the report to {args.report}")


def run_facts(settings, sizes, activation, n_train, n_test, history, stopped, test_accuracy):
    """The facts at the top of a report page: the data, the network, how it was trained,
    how well it did. settings: the command line's, or a saved model's info."""
    kept = history[-1].get("kept_epoch") if history else None
    facts = [("dataset", f"{settings['dataset']}: {n_train:,} training, "
                         f"{settings['val_size']:,} validation, {n_test:,} test images"),
             ("network", f"{'-'.join(map(str, sizes))}, {activation}"),
             ("training", f"{settings['optimizer']}, lr {settings['lr']:g} "
                          f"({settings['schedule']}), batch {settings['batch_size']}, dropout "
                          f"{settings['dropout']}, augment {settings['augment']}, seed "
                          f"{settings['seed']}"),
             ("epochs", f"{len(history)} of {settings['epochs']}"
                        + (" (stopped early)" if stopped else "")
                        + (f", the network of epoch {kept} kept" if kept else "")),
             ("test accuracy", f"{100 * test_accuracy:.2f}%")]
    if history and history[-1]["val_accuracy"] is not None:
        facts.append(("validation accuracy", f"{100 * history[(kept or len(history)) - 1]['val_accuracy']:.2f}%"))
    return facts


# ---------------------------------------------------------------- data
# load_dataset() fetches the four files of a dataset (from the cache in --data-dir, or a
# mirror: see the appendix), each checked by the SHA-256 of its decompressed bytes.

class DataError(Exception):
    """Data that could not be fetched or read; the message says what to do about it."""


def log(message):
    """Progress and warnings go to stderr, so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


FILES = {  # name: decompressed size in bytes, the same for MNIST and Fashion-MNIST
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
PREFIXES = {"train": "train-", "test": "t10k-"}


def load_dataset(dataset, data_dir, extra_mirrors=(), timeout=30.0, log=log,
                 splits=("train", "test")):
    """Fetch and parse one dataset's splits: a dict with uint8 images (N, 28, 28) and
    labels (N,) as "train_images", "train_labels", "test_images", "test_labels"."""
    spec = DATASETS[dataset]
    folder = Path(data_dir) / dataset  # MNIST and Fashion share file names: keep them apart
    mirrors = [url if url.endswith("/") else url + "/" for url in extra_mirrors]
    mirrors += spec["mirrors"]
    names = [name for name in FILES if name.startswith(tuple(PREFIXES[s] for s in splits))]
    arrays, missing, failures = {}, [], {}
    for name in names:
        try:
            data = fetch(name, folder, mirrors, spec["sha256"][name], FILES[name], timeout, log,
                         failures)
        except DataError:
            missing.append(name)
            continue
        arrays[name] = read_idx(data, name)
        del data  # the parsed array is a view of it; nothing else keeps the raw bytes
    if missing:
        raise DataError(why_missing(missing, len(names), failures, folder))
    result = {}
    for split in splits:
        images = arrays[PREFIXES[split] + "images-idx3-ubyte"]
        labels = arrays[PREFIXES[split] + "labels-idx1-ubyte"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{split}: {images.shape} images do not match {labels.shape} labels")
        result[f"{split}_images"], result[f"{split}_labels"] = images, labels
    return result


def why_missing(missing, n_files, failures, folder):
    """The message for files no mirror could give: which, why, and the two ways to fix it,
    in a few lines. failures: {mirror: (reason, unreachable)} from fetch()."""
    lines = [f"could not get {len(missing)} of the {n_files} files: {', '.join(missing)}"]
    reasons = [reason for reason, _ in failures.values()]
    if reasons and all(reason == NO_NAME for reason in reasons):
        lines.append("  no network: the mirrors' host names did not resolve")
    else:
        lines += [f"  {mirror}: {reason}" for mirror, (reason, _) in list(failures.items())[:4]]
    lines.append("To fix: pass --mirror with a folder (or file:/// or http:// URL) that holds "
                 "the .gz files, or")
    lines.append(f"put the files (or their .gz) into {folder}/ yourself.")
    return "\n".join(lines)


def split_off_validation(data, val_size):
    """(X_train, train_labels, X_val, val_labels) from the training images: the last
    val_size of them held out (views, not copies); X_val and val_labels are None for 0."""
    X_all, labels_all = as_inputs(data["train_images"]), data["train_labels"].astype(np.int64)
    del data["train_images"]  # X_all holds it now, as floats
    n_train = len(X_all) - val_size
    if n_train < 1:
        raise DataError(f"--val-size {val_size} leaves no training images of {len(X_all)}")
    if val_size == 0:
        return X_all, labels_all, None, None
    return X_all[:n_train], labels_all[:n_train], X_all[n_train:], labels_all[n_train:]


def as_inputs(images):
    """uint8 images (N, 28, 28) -> float32 rows (N, 784) scaled to [0, 1]."""
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= 255
    return X


# ---------------------------------------------------------------- augmentation
# Showing the network each training digit a little moved, turned or bent, a new way every
# epoch, keeps it from memorising pixel positions: it must learn the strokes. Simard,
# Steinkraus & Platt (2003) report for an 800-unit MLP 98.4% on plain MNIST, 98.9% with
# small affine distortions and 99.3% with elastic ones. nn.train() calls one of these on
# each training batch (never on validation or test data) as augment(X_batch, rng).

def shift_images(images, rng, max_shift):
    """Move each image (N, 28, 28) by its own random whole number of pixels dy, dx in
    [-max_shift, max_shift], filling with black. Images that drew the same shift move
    together: at most (2 max_shift + 1)**2 slice copies, no loop over images."""
    n, height, width = images.shape
    shifted = np.zeros_like(images)
    dy = rng.integers(-max_shift, max_shift + 1, n)
    dx = rng.integers(-max_shift, max_shift + 1, n)
    for y in range(-max_shift, max_shift + 1):
        for x in range(-max_shift, max_shift + 1):
            chosen = np.flatnonzero((dy == y) & (dx == x))
            if len(chosen):
                shifted[chosen, max(y, 0):height + min(y, 0), max(x, 0):width + min(x, 0)] = \
                    images[chosen, max(-y, 0):height + min(-y, 0), max(-x, 0):width + min(-x, 0)]
    return shifted


def resample(images, rows, cols):
    """Bilinear resampling: out[n, i, j] = images[n] read at the fractional position
    (rows[n, i, j], cols[n, i, j]), mixing its four nearest pixels by their distance;
    black outside the frame. All (N, 28, 28); float32 and in place, as it runs per batch."""
    n, height, width = images.shape
    padded = np.zeros((n, height + 4, width + 4), dtype=images.dtype)   # a black border
    padded[:, 2:-2, 2:-2] = images
    rows = np.clip(rows + 2, 0, height + 2.999, dtype=np.float32)      # into the border
    cols = np.clip(cols + 2, 0, width + 2.999, dtype=np.float32)
    top, left = np.floor(rows), np.floor(cols)
    rows -= top                                                        # how far down, 0..1
    cols -= left                                                       # how far right, 0..1
    index = top.astype(np.intp) * (width + 4) + left.astype(np.intp)   # of the top-left
    index += (np.arange(n) * padded[0].size)[:, None, None]             # in the flat batch
    flat = padded.reshape(-1)
    above = flat[index]                                                # top-left pixel
    above += cols * (flat[index + 1] - above)                          # mixed with top-right
    below = flat[index + width + 4]
    below += cols * (flat[index + width + 5] - below)
    above += rows * (below - above)
    return above


def affine_images(images, rng, max_shift, rotate, scale, shear):
    """Each image turned by up to `rotate` degrees, scaled by 1 +- `scale`, sheared by
    up to `shear` and moved by up to max_shift pixels, all drawn at random. Output pixel
    p reads the source at M (p - centre) + centre - move, M = rotation @ shear / zoom;
    M keeps a positive determinant, so nothing is ever mirrored."""
    n, height, width = images.shape
    angle = np.radians(rng.uniform(-rotate, rotate, n))
    zoom = rng.uniform(1 - scale, 1 + scale, n)
    slant = rng.uniform(-shear, shear, n)
    move = rng.uniform(-max_shift, max_shift, (2, n))
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    # rotation [[cos, -sin], [sin, cos]] @ shear [[1, slant], [0, 1]], one per image
    m = np.array([[cos, cos * slant - sin], [sin, sin * slant + cos]], dtype=np.float32)
    m = m[:, :, :, None, None]                                          # (2, 2, N, 1, 1)
    y = np.arange(height, dtype=np.float32)[:, None] - (height - 1) / 2   # (28, 1)
    x = np.arange(width, dtype=np.float32)[None, :] - (width - 1) / 2     # (1, 28)
    rows = m[0, 0] * y + m[0, 1] * x + ((height - 1) / 2 - move[0, :, None, None])
    cols = m[1, 0] * y + m[1, 1] * x + ((width - 1) / 2 - move[1, :, None, None])
    return resample(images, rows, cols)


def elastic_images(images, rng, alpha, sigma):
    """Simard's elastic distortion: every pixel moves by a random displacement field,
    uniform in [-1, 1], smoothed by a Gaussian of width sigma pixels and scaled by alpha,
    so the strokes bend as a hand's would. The smoothing is separable: blurring along
    rows, then columns, is multiplying by one (28, 28) matrix on each side."""
    n, height, width = images.shape
    offsets = np.arange(height, dtype=np.float32)
    blur = np.exp(-(offsets[:, None] - offsets[None, :]) ** 2 / (2 * sigma ** 2))
    blur /= blur.sum(axis=1, keepdims=True)                  # (28, 28), each row sums to 1
    field = rng.random((2 * n * height, width), dtype=np.float32) * 2 - 1
    field = (field @ blur.T).reshape(2 * n, height, width)            # along each row
    field = blur @ field.transpose(1, 0, 2).reshape(height, -1)       # along each column
    field = alpha * field.reshape(height, 2, n, width).transpose(1, 2, 0, 3)  # (2, N, 28, 28)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    return resample(images, y + field[0], x + field[1])


def make_augment(args, flips):
    """augment(X_batch, rng) for nn.train from the --augment settings, or None. X_batch
    holds flattened 28 x 28 images; flips (Fashion-MNIST only: a mirrored shoe is still a
    shoe, a mirrored 2 is no digit) mirrors half of the images left to right."""
    if args.augment == "none" and not flips:
        return None

    def augment(X_batch, rng):
        images = X_batch.reshape(-1, 28, 28)
        if args.augment == "shift" and args.shift > 0:
            images = shift_images(images, rng, args.shift)
        elif args.augment == "affine":
            images = affine_images(images, rng, args.shift, args.rotate, args.scale, args.shear)
        elif args.augment == "elastic":
            images = elastic_images(images, rng, args.alpha, args.sigma)
            if args.shift > 0:
                images = shift_images(images, rng, args.shift)
        if flips:
            mirrored = rng.random(len(images)) < 0.5
            images = np.where(mirrored[:, None, None], images[:, :, ::-1], images)
        return images.reshape(X_batch.shape).astype(X_batch.dtype, copy=False)

    return augment


# ---------------------------------------------------------------- what the terminal shows

def print_epoch(record, epochs, done=None):
    """One aligned line per epoch, comparable by eye across runs (and the record added
    to the list done)."""
    if done is not None:
        done.append(record)
    val = record["val_accuracy"]
    val_text = f"val {100 * val:6.2f}%" if val is not None else "val     -  "
    print(f"epoch {record['epoch']:3d}/{epochs}  loss {record['loss']:.4f}  "
          f"train {100 * record['train_accuracy']:6.2f}%  {val_text}  lr {record['lr']:.2e}  "
          f"{record['seconds']:5.1f} s  {record['samples_per_second']:7,.0f} img/s", flush=True)


def print_ending(history, args):
    """With --patience or --keep-best: why training ended, and which epoch is kept."""
    if not history:
        return
    last = history[-1]
    if last.get("stopped") == "patience":
        print(f"stopped after epoch {last['epoch']}: no lower validation loss for "
              f"{args.patience} epochs (the lowest: epoch {last['best_epoch']})")
    if "kept_epoch" in last:
        print(f"kept the network of epoch {last['kept_epoch']}, the lowest validation loss "
              f"({history[last['kept_epoch'] - 1]['val_loss']:.4f}; "
              f"accuracy {100 * history[last['kept_epoch'] - 1]['val_accuracy']:.2f}%)")


def print_doctor(history, sizes, args):
    """The training doctor's view: each layer's health in the last epoch, then what
    nn.diagnose() finds, its remedies said as this program's flags, or one line saying
    nothing looks wrong."""
    if not history:
        return
    last = history[-1]
    print(f"\nwhat the doctor sees (epoch {last['epoch']}; update/weight also for epoch 1, "
          f"where it is judged):")
    print("layer  shape       weight rms  grad rms  update/weight (epoch 1)  dead or saturated")
    for layer, start in zip(last["layers"], history[0]["layers"]):
        i = layer["layer"]
        share = layer["dead"] if layer["dead"] is not None else layer["saturated"]
        kind = "dead" if layer["dead"] is not None else "saturated"
        if share is not None:
            share_text = f"{100 * share:5.1f}% {kind}"
        else:                                    # leaky_relu units neither die nor saturate
            share_text = "(output layer)" if i == len(last["layers"]) else "     -"
        print(f"{i:5d}  {f'{sizes[i - 1]}x{sizes[i]}':10s}  {layer['weight_rms']:10.4f}  "
              f"{layer['grad_rms']:8.1e}  {layer['update_ratio']:8.1e} "
              f"({start['update_ratio']:7.1e})       {share_text}")
    findings = nn.diagnose(history)
    if not findings:
        print("nothing looks wrong by the doctor's rules of thumb.")
    for found in findings:
        remedies = "; or ".join(as_flags(remedy, args) for remedy in found["remedies"])
        print(f"- {found['check']}: {found['seen']}.\n    likely cause: {found['cause']}."
              f"\n    try: {remedies}.")


def as_flags(remedy, args):
    """A remedy of nn.diagnose() as this program's flags where it is a change of setting
    ({"lr": 0.0002} -> --lr 0.0002), else in nn.py's words (find_lr() as --find-lr).
    init has no flag: mnist.py already gives relu networks He's and the others Glorot's."""
    settings = {key: value for key, value in remedy.get("set", {}).items() if key != "init"}
    if not settings:                     # words, with nn.py's tools named as their flags
        return in_flags(remedy["say"])
    flags = []
    for key, value in settings.items():
        if key == "augment":
            value = "elastic" if args.augment != "none" else "shift"
        if value is True:
            flags.append(f"--{key.replace('_', '-')}")
        else:
            flags.append(f"--{key.replace('_', '-')} {value:g}" if isinstance(value, float)
                         else f"--{key.replace('_', '-')} {value}")
    return " ".join(flags)


def in_flags(text):
    """nn.py's advice in this program's words: find_lr() is --find-lr, lr=0.5 is --lr 0.5."""
    text = text.replace("find_lr()", "--find-lr").replace("sanity_check()", "--doctor")
    return re.sub(r"\blr=", "--lr ", text)


def print_report(probs, labels, images, classes, n_shown):
    """Test accuracy, the confusion matrix with precision and recall, and the mistakes the
    network was surest of, drawn as text."""
    predictions = probs.argmax(axis=1)
    counts = nn.confusion_matrix(labels, predictions, len(classes))
    precision, recall = nn.precision_recall(counts)
    print(f"\ntest accuracy {100 * nn.accuracy(labels, predictions):.2f}% "
          f"({int(np.trace(counts)):,} of {len(labels):,} correct)\n")
    print("confusion matrix (rows: true class, columns: predicted)")
    print("true \\ pred " + "".join(f"{k:>6d}" for k in range(len(classes))) + "   recall  class")
    for k, row in enumerate(counts):
        cells = "".join(f"{count:6d}" for count in row)
        print(f"{k:>11d} {cells}  {100 * recall[k]:6.2f}%  {classes[k]}")
    print("  precision " + "".join(f"{100 * p:6.1f}" for p in precision) + "  (%)")

    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:n_shown]
    if len(wrong) == 1:
        print("\nthe mistake it was surest of:")
    elif len(wrong):
        print(f"\nthe {len(wrong)} mistakes it was surest of:")
    for start in range(0, len(wrong), 3):
        group = wrong[start:start + 3]
        for i in group:
            print(f"#{i}: true {classes[labels[i]]}, predicted {classes[predictions[i]]} "
                  f"with {100 * probs[i, predictions[i]]:.2f}% confidence")
        print("   ".join(f"{f'#{i}':<28s}" for i in group))
        rows = ["   ".join(line) for line in zip(*(draw(images[i]) for i in group))]
        print("\n".join(trimmed(rows)))


SHADES = " .:-=+*#%@"  # dark to bright, one character per pixel


def draw(image):
    """A 28x28 image (uint8, or floats in [0, 1]) as 28 lines of characters, brighter
    pixels denser."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    levels = (image.astype(np.int64) * len(SHADES)) // 256
    return ["".join(SHADES[level] for level in row) for row in levels]


def trimmed(lines):
    """lines without the blank ones above and below the drawing."""
    inked = [i for i, line in enumerate(lines) if line.strip()]
    return lines[inked[0]:inked[-1] + 1] if inked else lines


def plural(count, word):
    """'1 epoch', '2 epochs'."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------- your own digits
# MNIST's digits were prepared in a particular way (LeCun et al., the MNIST page): each was
# scaled to fit a 20 x 20 box, keeping its aspect ratio (which greys its edges), then
# placed in a 28 x 28 frame so that its centre of mass sits on pixel (14, 14). A photo or a
# drawing must go through the same steps, or the network sees something it never learned.

def use_saved_network(args):
    """--load: answer --predict, --serve or --number-test, or report on the test set (only
    its files are needed)."""
    params, info = nn.load(args.load)
    dataset = info.get("dataset", args.dataset or "mnist")
    if dataset not in DATASETS:
        raise DataError(f"{args.load} was trained on an unknown dataset {dataset!r}")
    if args.dataset not in (None, dataset):
        raise DataError(f"{args.load} was trained on {dataset}, not {args.dataset}: leave "
                        f"out --dataset, or load a model trained on {args.dataset}")
    spec = DATASETS[dataset]
    sizes = info["sizes"]
    if sizes[0] != 28 * 28 or sizes[-1] != len(spec["classes"]):
        raise DataError(f"{args.load} has sizes {sizes}; {dataset} needs {28 * 28} inputs "
                        f"and {len(spec['classes'])} outputs")
    judge = saved_judge(info, args.load)
    if args.serve:
        if dataset != "mnist":
            raise DataError(f"--serve reads digits; {args.load} was trained on {dataset}")
        return serve(params, info["activation"], args.port, judge)
    if args.predict:
        return predict_files(params, info["activation"], args.predict, spec["classes"],
                             args.show, whole=dataset != "mnist", judge=judge)
    if args.number_test and dataset != "mnist":
        raise DataError(f"--number-test reads digits; {args.load} was trained on {dataset}")
    data = load_dataset(dataset, args.data_dir, args.mirror, args.timeout, splits=("test",))
    if args.number_test:
        return number_test(params, info["activation"], data["test_images"],
                           data["test_labels"], args.number_test, args.seed, judge)
    X_test, labels = as_inputs(data["test_images"]), data["test_labels"].astype(np.int64)
    print(f"loaded {args.load}: sizes {sizes}, activation {info['activation']}")
    probs = nn.softmax(nn.outputs(params, X_test, info["activation"]))
    print_report(probs, labels, data["test_images"], spec["classes"], args.show)
    if args.report:
        test_accuracy = nn.accuracy(labels, probs.argmax(axis=1))
        history = json.loads(info.get("history", "[]"))
        try:
            facts = [("model", args.load)] + run_facts(
                info, sizes, info["activation"], 60_000 - info["val_size"], len(labels),
                history, info["stopped_early"], test_accuracy)
        except KeyError:                       # a model saved before models kept all this
            facts = [("model", args.load), ("dataset", dataset),
                     ("network", f"{'-'.join(map(str, sizes))}, {info['activation']}"),
                     ("test accuracy", f"{100 * test_accuracy:.2f}%")]
        write_report(args.report, f"{args.load} on {dataset}", facts, history, params, probs,
                     labels, data["test_images"], spec["classes"])
        log(f"wrote the report to {args.report}")
    return 0


def saved_judge(info, path):
    """The reader's judge saved with a network (info from nn.load), checked; None for a
    network saved without one."""
    if "judge_W1" not in info:
        return None
    try:
        judge = {key: np.array(info[f"judge_{key}"], dtype=np.float32)
                 for key in ("W1", "b1", "W2", "b2")}
    except (KeyError, ValueError, TypeError):                # missing, or not numbers
        judge = {}
    hidden = judge["W1"].shape[-1] if judge and judge["W1"].ndim == 2 else 0
    shapes = {"W1": (28 * 28, hidden), "b1": (hidden,), "W2": (hidden, 2), "b2": (2,)}
    if hidden == 0 or any(judge[key].shape != shape or not np.isfinite(judge[key]).all()
                          for key, shape in shapes.items()):
        raise DataError(f"{path} is damaged: its reader's judge (judge_W1 ...) is not a "
                        f"784-{hidden}-2 network of finite numbers; save the network again")
    return judge


def predict_files(params, activation, paths, classes, show, whole=False, judge=None):
    """--predict: one line per image, then (with show) the 28 x 28 inputs the network was
    given, side by side. A number reads 'path: 2026  (2 99.1%, 0 97.3%, ...)'; one digit
    'path: 7 (97.1%)  1 (1.2%)  9 (0.8%)', its three likeliest classes. whole: the image
    is one item (Fashion-MNIST), never cut up; judge: the reader's (see read_group), or
    None. A file that cannot be read or holds no
    number gets one error line; the others are still answered. Returns the exit code."""
    failed = 0
    for path in paths:
        try:
            pixels = read_image(path)
            if whole:
                inputs = prepare_digit(pixels, path)[None]
                probs = nn.softmax(nn.outputs(params, inputs.reshape(1, -1), activation))
            else:
                reading = read_number(pixels, params, activation, path, judge)
                inputs, probs = reading["inputs"], reading["probs"]
        except DataError as error:
            print(f"mnist.py: error: {error}", file=sys.stderr)
            failed += 1
            continue
        best = probs.argmax(axis=1)
        if len(probs) == 1:
            likeliest = np.argsort(-probs[0])[:3]
            answer = "  ".join(f"{classes[k]} ({100 * probs[0, k]:.1f}%)" for k in likeliest)
        else:
            answer = "".join(classes[k] for k in best) + "  (" + ", ".join(
                f"{classes[k]} {100 * p[k]:.1f}%" for k, p in zip(best, probs)) + ")"
        print(f"{path}: {answer}")
        if show:
            rows = ["  ".join(line) for line in zip(*(draw(digit) for digit in inputs))]
            print("\n".join(trimmed(rows)))
    return 1 if failed else 0


# Reading a number takes a few steps, each a function below: grey levels; the ink, as what
# is clearly darker than the paper around it (a photo is lit unevenly, so the paper's
# brightness is estimated locally); the connected pieces of ink; the pieces of one digit
# joined (a 5's detached top stroke, a broken line); specks dropped; a piece too wide for
# one digit cut where its ink is thinnest near where the cut should be, the network's
# confidence choosing among the candidate cuts, helped by their shapes and by a judge (a
# second, small network that learns to tell one whole digit from a pair or a piece);
# each digit prepared as MNIST's were.

WORK_SIZE = 1200       # photos are read at most this many pixels wide or tall
MAX_DIGITS = 30        # more digit-sized pieces than this is no number (a page, a face)
SURE = 0.9             # a group the network reads with this confidence is one digit...
TOO_WIDE = 1.1         # ...unless it is this many times wider than tall
DIGIT_PRICE = 0.2      # what reading one more digit costs, in log-probability
SHAPE_PRICE = 10.0     # what an unlikely shape costs, in log-probability (see shape_cost)
WIDEST = 3.0           # a digit is rarely this many standard deviations wider than its class
SHORTEST = 0.75        # nor shorter than this share of the digits around it
JUDGE_NUMBERS = 2700   # numbers written with training digits that the judge learns from
JUDGE_HIDDEN = 64      # the judge: 784-64-2, 5 epochs
JUDGE_EPOCHS = 5
# log(width / height) of the ink of each class in MNIST's training set: mean and standard
# deviation. A 1 is narrow and varies most; a 0, a 2 or a 5 is about as wide as tall.
DIGIT_SHAPES = np.array([[-0.10, 0.19], [-0.91, 0.45], [-0.07, 0.21], [-0.23, 0.21],
                         [-0.24, 0.21], [-0.07, 0.25], [-0.32, 0.21], [-0.26, 0.21],
                         [-0.27, 0.22], [-0.39, 0.20]])


def read_number(pixels, params, activation, name="image", judge=None):
    """Read every digit in an image, left to right, with the network params.

    pixels: uint8 (H, W), or (H, W, C) with C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA;
    dark ink on light paper or light on dark. judge: the reader's judge (train_judge),
    which saved MNIST networks carry, or None. Returns a dict:
        text    the digits read, as a string ("2026")
        digits  the digits (K,);  probs: the network's probabilities (K, 10)
        inputs  what the network was given, float32 (K, 28, 28)
        boxes   where each digit is in the image, (top, left, bottom, right), (K, 4)
    Raises DataError for an image with no ink, or too many pieces to be a number.
    """
    factor = max(1, math.ceil(max(np.shape(pixels)[:2]) / WORK_SIZE))
    ink, labels, groups, expected = find_groups(block_mean(grey_levels(pixels), factor), name)
    found = []
    for members, _ in groups:
        found += read_group(np.isin(labels, members), ink, expected, params, activation, judge)
    inputs, probs, masks = (list(column) for column in zip(*found))
    probs = np.array(probs)
    digits = probs.argmax(axis=1)
    return {"text": "".join(str(d) for d in digits), "digits": digits, "probs": probs,
            "inputs": np.array(inputs),
            "boxes": np.array([bounding_box(mask) for mask in masks]) * factor}


def find_groups(grey, name="image"):
    """The first steps, up to the groups of ink that hold one digit or several touching:
    (ink, labels, groups, expected). grey (H, W) in [0, 1]; ink as ink_strength gives it;
    labels and groups as connected_pieces and digit_groups give them; expected: one digit's width in pixels (the median of the groups no wider than
    tall), or None when every group is wider."""
    ink, threshold = ink_strength(grey, name)
    labels, boxes, areas = connected_pieces(ink > threshold)
    groups = digit_groups(boxes, areas, ink.shape, name)
    narrow = [right - left for top, left, bottom, right in (span for _, span in groups)
              if right - left <= bottom - top]
    return ink, labels, groups, float(np.median(narrow)) if narrow else None


def read_group(mask, ink, expected, params, activation, judge=None):
    """The digits in one group of pieces (mask (H, W) bool), left to right, as a list of
    (input (28, 28), probs (10,), mask).

    The network reads every candidate digit of the group (see candidates). Without a
    judge, a group it reads with confidence (SURE), not too wide for one digit, is one.
    Otherwise the reading kept is the chain of candidates from the left edge to the right
    whose log-probabilities, each less DIGIT_PRICE for another digit and what its shape
    costs (shape_cost), add up to the most (dynamic programming, as in segmentation by
    recognition). The judge adds to each the log of its probability that the candidate is
    one whole digit.
    """
    top, left, ends, pieces, parts, inputs = candidates(mask, ink, expected)
    height, width = parts.shape[1:]
    probs = nn.softmax(nn.outputs(params, inputs.reshape(len(parts), -1), activation))
    whole = pieces.index((0, len(ends) - 1))
    if judge is None and probs[whole].max() >= SURE and width < TOO_WIDE * height:
        return [(inputs[whole], probs[whole], mask)]
    score = np.log(probs.max(axis=1)) - DIGIT_PRICE - shape_cost(parts, probs.argmax(axis=1),
                                                                 height)
    if judge is not None:
        one_digit = nn.softmax(nn.outputs(judge, inputs.reshape(len(parts), -1), "relu"))[:, 1]
        score += np.log(np.maximum(one_digit, 1e-6))
    best = np.full(len(ends), -np.inf)
    best[0], came_from = 0.0, {}
    for k, (i, j) in enumerate(pieces):             # (i, j) come sorted by i: one pass
        if best[i] + score[k] > best[j]:
            best[j], came_from[j] = best[i] + score[k], (i, k)
    chosen, j = [], len(ends) - 1
    while j:
        i, k = came_from[j]
        chosen.insert(0, k)
        j = i
    found = []
    for k in chosen:
        part = np.zeros_like(mask)
        part[top:top + height, left:left + width] = parts[k]
        found.append((inputs[k], probs[k], part))
    return found


def candidates(mask, ink, expected):
    """Every way to cut out one digit of a group of pieces (mask (H, W) bool), as
    (top, left, ends, pieces, parts, inputs): the group's box starts at (top, left); ends
    are the cut paths (see cut_path), each the column of the cut in each row of the box,
    the first its left edge and the last its right; pieces (i, j) name the candidates, the
    ink between cuts i and j; parts (K, h, w) bool is their ink in the box, and inputs
    (K, 28, 28) what the network is given for each.

    A group no wider than a digit (expected, its width in pixels; 0.7 of the group's
    height when None) has one candidate, the whole. A wider one may hold several digits
    that touch: cut paths are laid through it from top to bottom at every sixth of a
    digit's width, and every run between two of them up to twice a digit's width, with
    3% of the group's ink or more, is a candidate, and so is the whole group.
    """
    top, left, bottom, right = bounding_box(mask)
    width, height = right - left, bottom - top
    expected = expected or 0.7 * height
    box = mask[top:bottom, left:right]
    step = max(2.0, expected / 6)
    ends = [np.zeros(height, dtype=np.int64)]
    if width > 1.2 * expected:
        for centre in np.arange(step, width - step / 2, step):
            path = cut_path(box, centre, step / 2)
            if path is not None:
                ends.append(path)
    ends.append(np.full(height, width))
    columns = np.arange(width)[None, :]
    pieces, parts = [], []
    for i in range(len(ends)):
        reach = range(i + 1, min(len(ends), i + 2 + int(2 * expected / step)))
        for j in sorted(set(reach) | ({len(ends) - 1} if i == 0 else set())):
            part = box & (columns >= ends[i][:, None]) & (columns < ends[j][:, None])
            if part.sum() >= 0.03 * box.sum() or (i, j) == (0, len(ends) - 1):
                pieces.append((i, j))
                parts.append(part)
    inputs = np.stack([centre_digit(np.where(part, ink[top:bottom, left:right], 0))
                       for part in parts])
    return top, left, ends, pieces, np.array(parts), inputs


def shape_cost(parts, digits, height):
    """What the shape of each candidate digit costs, in log-probability, (K,): parts (K, h,
    w) bool, the candidates' ink; digits (K,) what the network read; height the group's.

    The network reads a pair of touching digits, squeezed into 20 x 20 pixels, as one
    digit with confidence, and so it does a stroke cut off a digit. Their shapes give
    them away: a pair is wider than nearly every MNIST digit of the class it was read as
    (more than WIDEST standard deviations above its class's mean log(width / height)),
    and a fragment is often shorter than the digits around it (under SHORTEST of the
    group's height). Either costs SHAPE_PRICE times the square of how far beyond it is.
    """
    top, bottom = inked_span(parts.any(axis=2))                  # each candidate's rows
    left, right = inked_span(parts.any(axis=1))                  # and columns
    heights, widths = bottom - top, right - left
    mean, std = DIGIT_SHAPES[digits].T
    wider = (np.log(widths / heights) - mean) / std - WIDEST
    shorter = np.log(SHORTEST * height / heights)
    return SHAPE_PRICE * (np.clip(wider, 0, None) ** 2 + np.clip(shorter, 0, None) ** 2)


def inked_span(inked):
    """(first, end) of each row of inked (K, n) bool: where its first True is, and one past
    its last, (K,) each."""
    return inked.argmax(axis=1), inked.shape[1] - inked[:, ::-1].argmax(axis=1)


def cut_path(box, centre, reach):
    """A way to cut the ink of box (h, w) bool in two from top to bottom: the column of
    the cut in each row (h,), moving at most one column from row to row, ending within
    `reach` of column `centre`; None if the box is too narrow. The path pays for every
    inked pixel it crosses and a little for straying from the centre; the cheapest path
    to each bottom column is found row by row (dynamic programming). So it bends around
    a stroke that a straight cut would go through."""
    height, width = box.shape
    columns = np.arange(width)
    cost = 10.0 * box + np.abs(columns - centre)[None, :] / max(reach, 1)       # (h, w)
    total, came_from = cost[0].copy(), np.zeros((height, width), dtype=np.int64)
    for y in range(1, height):
        left = np.concatenate([[np.inf], total[:-1]])          # arriving from x - 1
        right = np.concatenate([total[1:], [np.inf]])          # arriving from x + 1
        steps = np.stack([left, total, right])                  # (3, w)
        came_from[y] = steps.argmin(axis=0) - 1
        total = steps.min(axis=0) + cost[y]
    near = np.flatnonzero((np.abs(columns - centre) <= reach) & (columns > 0) &
                          (columns < width - 1))
    if len(near) == 0:
        return None
    path = np.empty(height, dtype=np.int64)
    path[-1] = near[np.argmin(total[near])]
    for y in range(height - 1, 0, -1):
        path[y - 1] = path[y] + came_from[y, path[y]]
    return path


def grey_levels(pixels):
    """float32 (H, W) in [0, 1], 0 black and 1 white, from uint8 grey, grey + alpha, RGB
    or RGBA pixels; transparent parts count as white paper."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or min(pixels.shape[:2]) < 1:
        raise DataError(f"expected pixels (H, W) or (H, W, 1-4), got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise DataError(f"expected uint8 pixels, 0 to 255, got {pixels.dtype}; for floats "
                        f"in [0, 1] pass np.round(255 * pixels).astype(np.uint8)")
    values = pixels.astype(np.float32) / 255
    colour = values[:, :, :3] if values.shape[2] >= 3 else values[:, :, :1]
    if colour.shape[2] == 3:
        grey = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    else:
        grey = colour[:, :, 0]
    if values.shape[2] in (2, 4):                                 # alpha: composite on white
        alpha = values[:, :, -1]
        grey = grey * alpha + (1 - alpha)
    return grey


def block_mean(image, factor):
    """image (H, W) shrunk by a whole factor, each pixel the mean of a factor x factor
    block (the edge blocks may be partial: the image is padded by its edge)."""
    if factor == 1:
        return image
    height, width = -(-image.shape[0] // factor), -(-image.shape[1] // factor)
    padded = np.pad(image, ((0, height * factor - image.shape[0]),
                            (0, width * factor - image.shape[1])), mode="edge")
    return padded.reshape(height, factor, width, factor).mean(axis=(1, 3))


def ink_strength(grey, name="image"):
    """(ink, threshold): how much darker than the paper around it each pixel of grey
    (H, W) is, and how dark a pixel must be to count as ink.

    The paper's brightness is estimated locally, by a closing (a max filter, then a min
    filter, over a window wider than any stroke): it erases the strokes, which are thin,
    and keeps what is large, such as a shadow or a brighter corner, so neither of those
    becomes ink. Ink takes away a share of the light that falls on it, wherever it lies,
    so darkness is measured as that share, (paper - grey) / paper: a digit in a shadow is
    as dark as one in the light. Light ink on dark paper is turned over first. A 3 x 3
    blur keeps sensor noise from counting as ink; the threshold is a third of the share
    of light that the darkest ink in the image takes.
    """
    blurred = window_filter(grey, 3, np.add) / 9
    size = int(np.clip(min(grey.shape) // 6, 9, 151)) | 1
    if light_ink(blurred, size):
        blurred = 1 - blurred
    paper = window_filter(window_filter(blurred, size, np.maximum), size, np.minimum)
    darker = (paper - blurred) / np.maximum(paper, 0.05)    # ink's share of the light
    darker[paper - blurred < 0.04] = 0                       # noise on dark paper, no ink
    contrast = np.percentile(darker, 99.5)
    if contrast < 0.1:
        raise DataError(f"{name}: no ink found (the image is blank or has no contrast); "
                        f"expected dark digits on light paper, or light on dark")
    return np.clip(darker, 0, None).astype(np.float32), max(0.06, contrast / 3)


def light_ink(grey, size):
    """True if the ink is lighter than the paper. In each size x size block the paper is
    the majority, so its median; ink lies far out on one side of it, while shading and
    the paper inside a digit's loops lie on both: compare how far the darkest and the
    lightest 5% lie from the median, summed over the blocks."""
    height, width = (grey.shape[0] // size) * size, (grey.shape[1] // size) * size
    if height == 0 or width == 0:
        height, width, size = grey.shape[0], grey.shape[1], 1
        blocks = grey.reshape(1, -1)
    else:
        blocks = grey[:height, :width].reshape(height // size, size, width // size, size)
        blocks = blocks.transpose(0, 2, 1, 3).reshape(-1, size * size)
    low, median, high = np.percentile(blocks, [5, 50, 95], axis=1)
    return (high - median).sum() > (median - low).sum()


def window_filter(image, size, combine):
    """combine (np.maximum or np.minimum) over the size x size window centred on each
    pixel of image (H, W); beyond the edges the image repeats its edge pixels. Windows of
    1, 2, 4, ... pixels are combined from two of half the width (about log2(size) passes
    along each axis), and a window of any size from two overlapping powers of two, which
    max and min do not mind. np.add is taken for size 3 only: the sum of a 3 x 3 window."""
    if combine is np.add and size != 3:
        raise ValueError("window_filter sums 3 x 3 windows only")
    for axis in (0, 1):
        image = np.moveaxis(image, axis, -1)
        n = image.shape[-1]
        padded = np.pad(image, [(0, 0), (size // 2, size - 1 - size // 2)], mode="edge")
        if combine is np.add:
            image = padded[:, :n] + padded[:, 1:n + 1] + padded[:, 2:n + 2]
        else:
            width, wide = 1, padded
            while 2 * width <= size:                       # wide[i]: padded[i:i + width]
                wide = combine(wide[:, :-width], wide[:, width:])
                width *= 2
            image = combine(wide[:, :n], wide[:, size - width:size - width + n])
        image = np.moveaxis(image, -1, axis)
    return image


def connected_pieces(mask):
    """The 8-connected pieces of mask (H, W) bool: (labels, boxes, areas). labels (H, W)
    holds 0 on paper and k = 1 .. K on piece k; boxes (K, 4) are (top, left, bottom,
    right), bottom and right exclusive; areas (K,) count each piece's pixels.

    Each inked pixel starts with its own number (its place in the list of inked pixels);
    then, pass by pass, it takes the smallest number among its neighbours and then the
    number held by the pixel that number names (pointer jumping), so numbers travel along
    a stroke in leaps, and a few dozen passes settle even a long one.
    """
    height, width = mask.shape
    rows, cols = np.nonzero(mask)                                    # the inked pixels (n,)
    place = np.full(mask.shape, -1, dtype=np.int64)
    place[rows, cols] = np.arange(len(rows))
    label = np.arange(len(rows))
    neighbours = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            y, x = rows + dy, cols + dx
            inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
            found = np.where(inside, place[np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)], -1)
            neighbours.append(np.where(found >= 0, found, label))     # none: itself
    neighbours = np.array(neighbours)                                # (9, n)
    while True:
        smallest = label[neighbours].min(axis=0)
        for _ in range(4):
            smallest = smallest[smallest]                           # follow each owner
        if np.array_equal(smallest, label):
            break
        label = smallest
    roots, k = np.unique(label, return_inverse=True)                 # pieces 0 .. K-1
    labels = np.zeros(mask.shape, dtype=np.int64)
    labels[rows, cols] = k + 1
    boxes = np.zeros((len(roots), 4), dtype=np.int64)
    if len(rows):
        order = np.argsort(k, kind="stable")
        starts = np.flatnonzero(np.diff(k[order], prepend=-1))
        boxes[:, 0] = np.minimum.reduceat(rows[order], starts)
        boxes[:, 1] = np.minimum.reduceat(cols[order], starts)
        boxes[:, 2] = np.maximum.reduceat(rows[order], starts) + 1
        boxes[:, 3] = np.maximum.reduceat(cols[order], starts) + 1
    return labels, boxes, np.bincount(k, minlength=len(roots))


def digit_groups(boxes, areas, shape, name="image"):
    """The pieces that make each digit, left to right: a list of (piece numbers, their
    box (top, left, bottom, right)). boxes (K, 4) and areas (K,) are the pieces', in an
    image of shape (H, W).

    Specks go first: pieces of under a tenth of a typical digit's ink that are also under
    0.4 of its height (the typical digit: the median of the pieces with a fifth of the
    largest one's ink or more); so do pieces along the image's edge taller than a digit
    or under half as tall (the edge of a shadow or of the page, the dark tip of a shadow
    in a corner). Pieces whose columns overlap by half the narrower one's width (a
    quarter, for a bar twice as wide as tall), less than half a digit apart vertically,
    are one digit (a 5's top stroke, a 7's crossbar, a broken line). A group whose middle
    lies above or below the line the pieces' median tops and bottoms mark is not part of
    the number. A group under half a digit's height is no digit either: it joins the
    nearest digit if it lies within a quarter of a digit's height of it (a 5's top stroke
    drawn beyond its body), or is dropped (a blot).
    """
    heights, widths = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    big = areas >= 0.2 * areas.max() if len(areas) else np.zeros(0, dtype=bool)
    height, area = (np.median(heights[big]), np.median(areas[big])) if big.any() else (0, 0)
    kept = (areas >= 0.1 * area) | (np.maximum(heights, widths) >= 0.4 * height)
    on_edge = (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == shape[0]) | \
        (boxes[:, 3] == shape[1])
    kept &= ~(on_edge & ((heights > 1.25 * height) |
                         (np.maximum(heights, widths) < 0.5 * height)))
    boxes, pieces = boxes[kept], np.flatnonzero(kept) + 1
    top, left, bottom, right = boxes.T
    overlap = np.minimum(right[:, None], right) - np.maximum(left[:, None], left)
    narrower = np.minimum((right - left)[:, None], right - left)
    gap = np.maximum(top[:, None], top) - np.minimum(bottom[:, None], bottom)
    flat = (right - left) >= 2 * (bottom - top)                  # a bar: a 5's top, a 7's
    needed = np.where(flat[:, None] | flat[None, :], 0.25, 0.5) * narrower
    together = (overlap >= needed) & (gap < 0.5 * height)                    # (K, K)
    group = np.arange(len(boxes))
    for _ in range(len(boxes)):                                  # join transitively
        joined = np.where(together, group[None, :], len(boxes)).min(axis=1)
        if np.array_equal(joined, group):
            break
        group = joined
    members = [np.flatnonzero(group == g) for g in np.unique(group)]
    spans = np.array([[top[m].min(), left[m].min(), bottom[m].max(), right[m].max()]
                      for m in members]).reshape(-1, 4)
    members = [pieces[m] for m in members]
    line_top, line_bottom = np.median(boxes[:, 0]), np.median(boxes[:, 2])   # the number's
    middle = (spans[:, 0] + spans[:, 2]) / 2
    in_line = (middle > line_top) & (middle < line_bottom)                  # line of text
    members, spans = [m for m, keep in zip(members, in_line) if keep], spans[in_line]
    short = spans[:, 2] - spans[:, 0] < 0.5 * height
    if short.any() and not short.all():
        tall = np.flatnonzero(~short)
        for i in np.flatnonzero(short):
            gaps = np.maximum(spans[tall, 1] - spans[i, 3], spans[i, 1] - spans[tall, 3])
            j = tall[gaps.argmin()]
            if gaps.min() < 0.25 * height:
                members[j] = np.concatenate([members[j], members[i]])
                spans[j] = [min(spans[i, 0], spans[j, 0]), min(spans[i, 1], spans[j, 1]),
                            max(spans[i, 2], spans[j, 2]), max(spans[i, 3], spans[j, 3])]
        members, spans = [members[i] for i in tall], spans[tall]
    if not members:
        raise DataError(f"{name}: no digits in a line found, only marks scattered above and "
                        f"below each other; expected a number written in one line")
    if len(members) > MAX_DIGITS:
        raise DataError(f"{name}: {len(members)} separate marks of about digit size: more than "
                        f"a number of {MAX_DIGITS} digits; expected digits written on plain "
                        f"paper, in one line")
    order = np.argsort(spans[:, 1], kind="stable")
    return [(members[i], spans[i]) for i in order]


def bounding_box(mask):
    """(top, left, bottom, right) of the True pixels of mask, bottom and right exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return rows[0], cols[0], rows[-1] + 1, cols[-1] + 1


def prepare_digit(pixels, name="image"):
    """A picture of one digit as MNIST would have it: float32 (28, 28), ink 1, paper 0:
    its grey levels, the ink against the paper at its border (light ink on dark
    paper turned over), then centre_digit."""
    grey = grey_levels(pixels)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    light_paper = np.median(border) > 0.5
    ink = 1 - grey if light_paper else grey                        # ink bright, paper dark
    paper = np.median(1 - border if light_paper else border)
    ink = np.clip(ink - paper, 0, None)                            # the paper's shade is no ink
    if ink.max() < 0.1:
        raise DataError(f"{name}: no digit found (the image is blank or has no contrast)")
    return centre_digit(ink)


def centre_digit(ink):
    """MNIST's preparation of a digit's ink (H, W), bright on 0: cropped to the ink,
    scaled so its longer side is 20 pixels, by area averaging; placed in 28 x 28 so that
    its centre of mass is on pixel (14, 14), within half a pixel, as MNIST's digits' are
    (their mean is 13.99, 14.03; half a pixel off, the network misreads about one digit
    in 300 more); brightest ink scaled to 1, like the training images' 255. float32 (28,
    28)."""
    inked_rows = np.flatnonzero(ink.max(axis=1) > 0.2 * ink.max())
    inked_cols = np.flatnonzero(ink.max(axis=0) > 0.2 * ink.max())
    ink = ink[inked_rows[0]:inked_rows[-1] + 1, inked_cols[0]:inked_cols[-1] + 1]
    scale = 20 / max(ink.shape)
    height = max(1, round(ink.shape[0] * scale))
    width = max(1, round(ink.shape[1] * scale))
    small = area_resize(ink, height, width)
    total = small.sum()
    centre_y = (small.sum(axis=1) @ np.arange(height)) / total
    centre_x = (small.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(14 - centre_y), 0, 28 - height))
    left = int(np.clip(round(14 - centre_x), 0, 28 - width))
    digit = np.zeros((28, 28))
    digit[top:top + height, left:left + width] = small
    return (digit / digit.max()).astype(np.float32)


def area_resize(image, height, width):
    """Resize a 2-D float image by area averaging: each output pixel is the mean of the
    part of the input it covers. Written as two matrix products: rows, then columns."""
    def weights(n_out, n_in):
        """(n_out, n_in): how much of input cell j falls into output cell i, rows summing to 1."""
        edges_out = np.arange(n_out + 1) * (n_in / n_out)         # output cells, in input units
        low = np.maximum(edges_out[:-1, None], np.arange(n_in)[None, :])
        high = np.minimum(edges_out[1:, None], np.arange(1, n_in + 1)[None, :])
        overlap = np.clip(high - low, 0, None)
        return overlap / overlap.sum(axis=1, keepdims=True)
    return weights(height, image.shape[0]) @ image @ weights(width, image.shape[1]).T


def train_judge(images, rng, numbers, log=log):
    """The reader's judge: a small second network (784-64-2) that says whether a candidate
    (see candidates) is one whole digit. The network that reads digits cannot say so:
    shown two digits squeezed into one, or a stroke cut off a digit, it names a digit all
    the same, often with confidence.

    The judge learns from `numbers` numbers written with images (float (N, 28, 28) in [0,
    1], light on black: training digits), apart or touching, cut up by the reader's own
    steps, digits 40 to 59 pixels tall (enough: candidates are scaled to 20 pixels). A
    candidate that covers 85% of one digit's columns and at most a quarter of any other's
    is whole (1); one that covers half of two digits or more, or under 70% of any one, is
    not (0); the rest are too close to call and left out. Returns the judge's params, or
    None if no number could be cut up (images that are no digits).
    """
    inputs, whole = [], []
    for n in range(numbers):
        chosen = rng.choice(len(images), int(rng.integers(2, 9)), replace=False)
        kind = "apart" if n % 3 == 2 else "touching"
        canvas, spans = place_digits(images[chosen] * 255, kind, rng, int(rng.integers(40, 60)))
        try:
            ink, labels, groups, expected = find_groups(grey_levels(on_paper(canvas, kind, rng)))
        except DataError:                    # no ink, or no line of digits: nothing to cut
            continue
        for members, _ in groups:
            _, left, _, _, parts, candidate_inputs = candidates(
                np.isin(labels, members), ink, expected)
            first, last = left + np.array(inked_span(parts.any(axis=1)))  # columns, (K,) each
            covered = np.clip(np.minimum(last[:, None], spans[:, 1]) -
                              np.maximum(first[:, None], spans[:, 0]), 0, None) / \
                (spans[:, 1] - spans[:, 0])                                  # (K, digits)
            most, second = np.sort(np.pad(covered, ((0, 0), (0, 1))), axis=1)[:, [-1, -2]].T
            label = np.where((most >= 0.85) & (second <= 0.25), 1,
                             np.where((second >= 0.5) | (most < 0.7), 0, -1))
            inputs.append(candidate_inputs[label >= 0])
            whole.append(label[label >= 0])
    if not inputs:
        return None
    X, whole = np.concatenate(inputs).reshape(-1, 28 * 28), np.concatenate(whole)
    log(f"training the reader's judge on {len(X):,} cut-out candidates from {numbers} numbers "
        f"({100 * whole.mean():.0f}% of them whole digits)")
    judge = nn.init_params([28 * 28, JUDGE_HIDDEN, 2], rng=rng)
    nn.train(judge, X, whole, epochs=JUDGE_EPOCHS, batch_size=128, lr=1e-3,
             optimizer="adam", dropout=0.2, rng=rng)
    return judge


NUMBER_KINDS = {"apart": "apart, on white paper", "photo": "photographed, grey paper",
                "touching": "close or touching"}


def number_test(params, activation, images, labels, per_kind, seed, judge=None):
    """--number-test: how well the network reads whole numbers. per_kind numbers of each
    kind (see write_number), each of 2 to 8 digits drawn from images (uint8 (N, 28, 28),
    MNIST's test digits: writers the network never saw) with their labels (N,), read by
    read_number. Prints how many were read exactly, the share of digits read right and
    in order, the time a number took, how many the network itself reads right when given
    MNIST's own images of their digits (what a perfect cutter would reach), and the
    numbers misread. Returns the exit code."""
    rng = np.random.default_rng(seed)
    print(f"{per_kind} numbers of each kind, made from MNIST's test digits (seed {seed}):")
    exact, digits, right, seconds, misread, alone = 0, 0, 0, [], [], 0
    for kind, title in NUMBER_KINDS.items():
        read = 0
        for _ in range(per_kind):
            chosen = rng.choice(len(images), int(rng.integers(2, 9)), replace=False)
            truth = "".join(str(label) for label in labels[chosen])
            picture = write_number(images[chosen], kind, rng)
            started = time.perf_counter()
            try:
                said = read_number(picture, params, activation, judge=judge)["text"]
            except DataError:
                said = "nothing"
            seconds.append(time.perf_counter() - started)
            read += said == truth
            alone += (nn.predict(params, as_inputs(images[chosen]), activation) ==
                      labels[chosen]).all()
            blocks = difflib.SequenceMatcher(None, truth, said).get_matching_blocks()
            right += sum(block.size for block in blocks)
            digits += len(truth)
            if said != truth:
                misread.append(f"{truth} as {said}")
        exact += read
        print(f"  {title:<26} {read:>4} of {per_kind:<4} read exactly "
              f"({100 * read / per_kind:.1f}%)")
    count = len(seconds)
    print(f"  {'all':<26} {exact:>4} of {count:<4} read exactly ({100 * exact / count:.1f}%)\n"
          f"digits read right and in order: {100 * right / digits:.1f}%; the median number "
          f"took {1000 * np.median(seconds):.0f} ms to read\n"
          f"the network alone, given MNIST's own images of the digits, reads {alone} of "
          f"{count} numbers right ({100 * alone / count:.1f}%)")
    if misread:
        more = f", and {len(misread) - 20} more" if len(misread) > 20 else ""
        print(textwrap.fill("misread (written as read): " + ", ".join(misread[:20]) + more,
                            width=90, subsequent_indent="  "))
    return 0


def write_number(digits, kind, rng, height=None):
    """A photo-like image of the digits written left to right, as a user would make it.

    digits: 28 x 28 images, light ink on black (uint8, as MNIST's). Each is cropped to its
    ink and scaled to about `height` pixels tall (drawn from 40 to 119 when None), with
    the size and the baseline wandering a little from digit to digit. kind:
        "apart"     dark ink on white paper, gaps between the digits: grey (H, W) uint8
        "photo"     grey paper lit unevenly (a light gradient and a shadow), sensor
                    noise, a colour cast: RGB (H, W, 3) uint8
        "touching"  on white paper, each digit close to the last or touching it (their
                    boxes from height/16 apart to height/24 overlapping)
    """
    canvas, _ = place_digits(digits, kind, rng, height)
    return on_paper(canvas, kind, rng)


def place_digits(digits, kind, rng, height=None):
    """The ink of write_number's image, (H, W) in [0, 1], and where each digit lies in it:
    (K, 2), its first column and the one after its last."""
    height = int(rng.integers(40, 120)) if height is None else height
    placed = []
    for digit in digits:
        digit = np.asarray(digit, dtype=np.float64) / 255
        rows, cols = np.flatnonzero(digit.max(axis=1) > 0.1), np.flatnonzero(digit.max(axis=0) > 0.1)
        digit = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        size = height * rng.uniform(0.9, 1.1)
        placed.append(np.clip(bilinear(digit, int(size), max(2, int(size * digit.shape[1] /
                                                                     digit.shape[0]))), 0, 1))
    margin = height // 2
    canvas = np.zeros((2 * margin + int(1.3 * height), 2 * margin + sum(p.shape[1] for p in placed)
                       + len(placed) * height // 2))
    x, spans = margin, []
    for k, digit in enumerate(placed):
        if kind == "touching" and k:
            x -= int(rng.integers(-height // 16, height // 24 + 1))  # close, or touching
        y = margin + int(rng.integers(0, max(1, int(1.3 * height) - digit.shape[0])))
        area = canvas[y:y + digit.shape[0], x:x + digit.shape[1]]
        np.maximum(area, digit, out=area)
        spans.append((x, x + digit.shape[1]))
        x += digit.shape[1] + (0 if kind == "touching" else int(rng.integers(height // 8,
                                                                             height // 3)))
    return canvas[:, :x + margin], np.array(spans)


def on_paper(canvas, kind, rng):
    """The ink of place_digits on white paper, or photographed on grey (kind "photo")."""
    if kind != "photo":
        return np.round(255 * (1 - 0.9 * canvas)).astype(np.uint8)
    h, w = canvas.shape
    paper = rng.uniform(0.5, 0.75) + 0.25 * np.linspace(-1, 1, w)[None, :] * rng.choice([-1, 1])
    paper = paper + 0.1 * np.linspace(-1, 1, h)[:, None]
    shadow = np.arange(h)[:, None] * rng.uniform(-1, 1) + np.arange(w)[None, :] > \
        rng.uniform(0.5, 0.9) * w                                  # a straight-edged shadow
    paper = np.clip(paper - 0.2 * shadow, 0.15, 1)
    grey = paper * (1 - 0.75 * canvas) + rng.normal(0, 0.03, canvas.shape)
    rgb = grey[:, :, None] * np.array([1.0, 0.96, 0.88])
    return np.clip(np.round(255 * rgb), 0, 255).astype(np.uint8)


def bilinear(image, height, width):
    """Bilinear resampling of a float image (h, w) to (height, width)."""
    rows = np.linspace(0, image.shape[0] - 1, height)
    cols = np.linspace(0, image.shape[1] - 1, width)
    top, left = np.floor(rows).astype(int), np.floor(cols).astype(int)
    bottom = np.minimum(top + 1, image.shape[0] - 1)
    right = np.minimum(left + 1, image.shape[1] - 1)
    dy, dx = (rows - top)[:, None], (cols - left)[None, :]
    upper = image[top][:, left] * (1 - dx) + image[top][:, right] * dx
    lower = image[bottom][:, left] * (1 - dx) + image[bottom][:, right] * dx
    return upper * (1 - dy) + lower * dy


# ---------------------------------------------------------------- the doctor and the learning rate

def run_doctor(params, X, labels, args):
    """--doctor: the checks of nn.sanity_check, one line each; exit status 1 if one failed."""
    print("the doctor's checks before training:")
    results = nn.sanity_check(params, X, labels, activation=args.activation,
                              rng=np.random.default_rng(args.seed))
    for result in results:
        print(f"  {'passed' if result['passed'] else 'FAILED'}  {result['check']:13s} "
              f"{result['seen']}")
    if not all(result["passed"] for result in results):
        print("  a failed check means training would not tell you much: fix it first.")
        return 1
    return 0


def run_find_lr(params, X, labels, args):
    """--find-lr: the learning-rate range test as a text plot, and its suggestion."""
    found = nn.find_lr(params, X, labels, activation=args.activation, optimizer=args.optimizer,
                       momentum=args.momentum, batch_size=args.batch_size,
                       rng=np.random.default_rng(args.seed))
    print(f"learning-rate range test ({args.optimizer}, batch {args.batch_size}, "
          f"{len(found['lrs'])} steps): smoothed training loss against the rate")
    print(text_plot(found["lrs"], found["losses"], found["suggestion"]))
    margin = nn.FIND_LR_MARGIN[args.optimizer]
    print(f"suggested: --lr {found['suggestion']:.2g} (the | mark: 1/{margin} of the rate "
          f"where the loss was lowest; a starting point, not a promise)")
    return 0


def text_plot(xs, ys, marker_x=None, width=60, height=12):
    """A scatter of ys against log10(xs) in characters, with a | at marker_x: find-lr's
    curve."""
    span = max(math.log10(xs[-1] / xs[0]), 1e-12)
    low, high = min(ys), max(ys)

    def column(x):
        return int(math.log10(x / xs[0]) / span * (width - 1))

    def row(y):
        return int((high - y) / max(high - low, 1e-12) * (height - 1))

    grid = [[" "] * width for _ in range(height)]
    if marker_x is not None and 0 <= column(marker_x) < width:
        for line in grid:
            line[column(marker_x)] = "|"
    for x, y in zip(xs, ys):
        grid[row(y)][column(x)] = "*"
    labels = [f"{high:8.3g} "] + [" " * 9] * (height - 2) + [f"{low:8.3g} "]
    lines = [label + "|" + "".join(line) for label, line in zip(labels, grid)]
    lines.append(" " * 9 + "+" + "-" * width)
    lines.append(f"          lr {xs[0]:.0e}{'':>{width - 22}}{xs[-1]:.0e}")
    return "\n".join(lines)


# ---------------------------------------------------------------- comparing runs
# Improving a network is changing one thing at a time and seeing what it did. So every
# training run is recorded as one line of JSON in a runs file (record_run, in the
# appendix), and --compare lays the recorded runs side by side, as TensorBoard's runs
# or MLflow's tables do: only the settings that differ, so the change stands out.

RUN_SETTINGS = ["dataset", "hidden", "activation", "optimizer", "epochs", "batch_size", "lr",
                "schedule", "final_lr", "momentum", "dropout", "weight_decay", "augment",
                "shift", "rotate", "scale", "shear", "alpha", "sigma", "val_size", "seed",
                "keep_best", "patience"]
COMPARED_CURVES = 10


def compare_runs(args):
    """--compare [RUN ...]: the recorded runs (all, or those numbered) as a table, best
    validation accuracy first, with the settings that differ between them as columns;
    with --report, a page of their validation curves (the last ten, or those named)."""
    runs = read_runs(args.runs)
    if not runs:
        raise DataError(f"no runs recorded in {args.runs} yet: each 'python mnist.py' "
                        f"training run adds one (see --runs)")
    if args.compare:
        missing = [number for number in args.compare if not 1 <= number <= len(runs)]
        if missing:
            raise DataError(f"--compare: no run {missing[0]} in {args.runs}; its runs are "
                            f"numbered 1 to {len(runs)}")
        runs = [runs[number - 1] for number in args.compare]
    columns = differing_settings(runs)
    rows = best_first(runs)
    header = ["run", *columns, "best val", "test", "time", "the doctor's first finding"]
    table = [[f"#{run['number']}", *(setting_text(run["settings"].get(key)) for key in columns),
              percent(best_val_accuracy(run)), percent(run["test_accuracy"]),
              f"{run['seconds']:.0f} s", run["findings"][0]["check"] if run["findings"] else "-"]
             for run in rows]
    widths = [max(len(str(row[i])) for row in [header] + table) for i in range(len(header))]
    for row in [header] + table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    if not columns and len(runs) > 1:
        print(f"(the {len(runs)} runs shown share every setting)")
    if args.report:
        shown = runs[-COMPARED_CURVES:] if not args.compare else runs
        write_comparison(args.report, shown, differing_settings(shown))
        log(f"wrote the comparison to {args.report}")
    return 0


def differing_settings(runs):
    """The settings whose values are not the same in every run, in RUN_SETTINGS order."""
    return [key for key in RUN_SETTINGS
            if len({json.dumps(run["settings"].get(key)) for run in runs}) > 1]


def best_first(runs):
    """The runs by their best validation accuracy, highest first (runs without last)."""
    return sorted(runs, key=lambda run: -(best_val_accuracy(run) or -1))


def best_val_accuracy(run):
    """The highest validation accuracy of a run's epochs, or None without validation."""
    accuracies = [record["val_accuracy"] for record in run["history"]
                  if record.get("val_accuracy") is not None]
    return max(accuracies) if accuracies else None


def setting_text(value):
    """A setting as a table cell: 640,640 for a list, 0.002 for a float."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.2f}%"


def run_label(run, columns):
    """What tells a run apart in a chart's legend: its number and differing settings."""
    changed = ", ".join(f"{key} {setting_text(run['settings'].get(key))}" for key in columns)
    return f"#{run['number']} {changed}".strip()


def busy_machine_hint():
    """A line of advice when other programs keep a core busy. OpenBLAS splits every matrix
    product over all cores and waits for the slowest, so with one of two cores busy an
    epoch can take twice as long as with OPENBLAS_NUM_THREADS=1. The variable must be set
    before NumPy starts, so this only says it; nothing changes."""
    if "OPENBLAS_NUM_THREADS" in os.environ or not hasattr(os, "getloadavg"):
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if cores > 1 and load >= 0.8:
        log(f"note: other programs are keeping this machine busy (load {load:.1f} on {cores} "
            f"cores); if epochs are slow, OPENBLAS_NUM_THREADS=1 python mnist.py ... can "
            f"be twice as fast")


# ================================================================ appendix: plumbing
# What follows makes the story above work, and can wait: the command line, fetching and
# reading files, PNG pictures, and the report page.


# ---------------------------------------------------------------- command line

def run(argv=None):
    """main(), with expected failures turned into one readable message and an exit code."""
    try:
        return main(argv)
    except (DataError, FloatingPointError, ValueError, OSError) as error:
        if isinstance(error, BrokenPipeError):
            return quiet_broken_pipe()
        print(f"mnist.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmnist.py: interrupted", file=sys.stderr)
        return 130


def quiet_broken_pipe():
    """The reader of our output went away (python mnist.py | head): stop quietly, as Unix
    tools do, pointing stdout at /dev/null so Python's final flush cannot complain."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # stdout is no real file (under a test runner, say): nothing will flush to it
    return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a fully connected network (nn.py) on MNIST or Fashion-MNIST and "
                    "report what it learned.",
        epilog="Offline? Put the four .gz (or decompressed) files in --data-dir/DATASET/, or "
               "point --mirror at a folder holding them. Slow on a busy machine? Try "
               "OPENBLAS_NUM_THREADS=1 python mnist.py (see README, Speed).")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                      help="which dataset (default: mnist; with --load, the model's)")
    data.add_argument("--data-dir", default=str(Path(__file__).resolve().parent / "data"),
                      help="cache folder; each dataset gets its own subfolder "
                           "(default: data/ next to this script)")
    data.add_argument("--mirror", action="append", default=[], metavar="URL", type=mirror_url,
                      help="a folder serving the .gz files, tried before the built-in "
                           "mirrors: http(s)://, file:///absolute/path or a folder path; "
                           "repeatable (default: none)")
    data.add_argument("--timeout", type=number(float, above=0, maximum=3600), default=30.0,
                      metavar="SECONDS",
                      help="longest wait for a server; a mirror sending less than 10 KB/s "
                           "for this long is also left for the next (default: %(default)s)")
    data.add_argument("--val-size", type=number(int, minimum=0), default=5000,
                      help="training images held out for validation, taken from the end "
                           "(default: %(default)s)")
    model = parser.add_argument_group("network and training")
    model.add_argument("--hidden", type=hidden_sizes, metavar="SIZES",
                       help=f"hidden layer sizes, comma separated ({defaults('hidden')})")
    model.add_argument("--activation", choices=list(nn.ACTIVATIONS), default="relu",
                       help="hidden layer activation (default: %(default)s)")
    model.add_argument("--optimizer", choices=list(nn.OPTIMIZERS), default="adam",
                       help="update rule (default: %(default)s)")
    model.add_argument("--epochs", type=number(int, minimum=1),
                       help=f"passes over the training images ({defaults('epochs')})")
    model.add_argument("--batch-size", type=number(int, minimum=1), default=256,
                       help="images per step (default: %(default)s)")
    model.add_argument("--lr", type=number(float, above=0), default=None,
                       help="starting learning rate (default: 0.002 for adam, 0.05 for sgd)")
    model.add_argument("--schedule", choices=["constant", "linear", "cosine"], default="cosine",
                       help="how the learning rate falls to --final-lr over training "
                            "(default: %(default)s)")
    model.add_argument("--final-lr", type=number(float, minimum=0), default=0.0,
                       help="learning rate at the end of a decaying schedule "
                            "(default: %(default)s)")
    model.add_argument("--momentum", type=probability, default=0.9,
                       help="how much of past gradients each step keeps: SGD's momentum, "
                            "Adam's beta1 (default: %(default)s)")
    model.add_argument("--dropout", type=probability,
                       help=f"probability of dropping each hidden unit while training "
                            f"({defaults('dropout')})")
    model.add_argument("--weight-decay", type=number(float, minimum=0), default=0.0,
                       help="decoupled weight decay on the weights (default: %(default)s)")
    model.add_argument("--keep-best", action="store_true",
                       help="end with the network of the epoch with the lowest validation "
                            "loss, not the last one (default: off)")
    model.add_argument("--patience", type=number(int, minimum=1), default=None, metavar="N",
                       help="stop after N epochs without a lower validation loss "
                            "(default: train all --epochs)")
    model.add_argument("--seed", type=number(int, minimum=0), default=0,
                       help="seed for the weights, the batch order, dropout and augmentation "
                            "(default: %(default)s)")
    augment = parser.add_argument_group("augmentation (training images only)")
    augment.add_argument("--augment", choices=["none", "shift", "affine", "elastic"],
                         help=f"how each training image is changed, anew every epoch: shift "
                              f"moves it by whole pixels; affine also turns, scales and "
                              f"shears it; elastic bends its strokes (Simard 2003); "
                              f"Fashion-MNIST images are also mirrored left-right at random "
                              f"(digits never are) ({defaults('augment')})")
    augment.add_argument("--shift", type=number(int, minimum=0, maximum=8), default=2,
                         metavar="PIXELS", help="largest move, in pixels, for shift, affine "
                                                "and elastic (default: %(default)s)")
    augment.add_argument("--rotate", type=number(float, minimum=0, maximum=90), default=12.0,
                         metavar="DEGREES", help="largest turn, for affine (default: %(default)s)")
    augment.add_argument("--scale", type=number(float, minimum=0, maximum=0.5), default=0.1,
                         help="largest change of size, as a fraction, for affine "
                              "(default: %(default)s)")
    augment.add_argument("--shear", type=number(float, minimum=0, maximum=1), default=0.15,
                         help="largest shear, for affine (default: %(default)s)")
    augment.add_argument("--alpha", type=number(float, minimum=0, maximum=100), default=34.0,
                         help="strength of the elastic distortion, in pixels "
                              "(default: %(default)s)")
    augment.add_argument("--sigma", type=number(float, above=0, maximum=28), default=6.0,
                         help="smoothness of the elastic distortion, in pixels; Simard used 4, "
                              "6 did better on the validation split (default: %(default)s)")
    doctor = parser.add_argument_group("the training doctor")
    doctor.add_argument("--doctor", action="store_true",
                        help="check the setup (loss at start, overfitting a small batch, "
                             "use of the inputs, gradients) and exit without training; the "
                             "exit status is 1 if a check failed (default: off)")
    doctor.add_argument("--find-lr", action="store_true",
                        help="run the learning-rate range test, plot it, suggest a rate, and "
                             "exit without training (default: off)")
    output = parser.add_argument_group("saving and reporting")
    output.add_argument("--save", metavar="PATH",
                        help="save the trained network, with its settings and results, to an "
                             ".npz file; an MNIST network also gets the reader's judge, "
                             "trained in about a minute (default: not saved)")
    output.add_argument("--load", metavar="PATH",
                        help="evaluate a network saved with --save instead of training one "
                             "(default: train a new one)")
    output.add_argument("--show", type=number(int, minimum=0), default=6, metavar="N",
                        help="misclassified test images to draw; with --predict, 0 leaves "
                             "out the drawing of what the network saw (default: %(default)s)")
    output.add_argument("--report", metavar="PATH",
                        help="write a page with pictures of what was learned: curves, "
                             "layer health, confusion matrix, first-layer weights, mistakes "
                             "(an .html file; default: none)")
    output.add_argument("--runs", metavar="PATH", default=None,
                        help="the file each training run is recorded in, one line of JSON "
                             "per run; 'none' records nothing (default: runs.jsonl in "
                             "--data-dir)")
    output.add_argument("--compare", nargs="*", type=number(int, minimum=1), metavar="RUN",
                        help="print the recorded runs (or those numbered) as a table, best "
                             "validation accuracy first, with the settings that differ; "
                             "with --report, a page of their validation curves (default: "
                             "off)")
    output.add_argument("--predict", nargs="+", metavar="IMAGE",
                        help="with --load: read the number (one digit or several, left to "
                             "right) in each of your images (PNG, PGM or PPM), each digit "
                             "prepared as MNIST's were (default: none)")
    output.add_argument("--serve", action="store_true",
                        help="with --load: serve a page on this computer where you write "
                             "digits or open a photo and watch the network read them "
                             "(default: off)")
    output.add_argument("--number-test", type=number(int, minimum=1), metavar="N",
                        help="with --load: make N numbers of each kind (digits apart, "
                             "photographed on grey paper, close or touching) from MNIST's "
                             "test digits, read them, and say how many were read exactly "
                             "(default: off)")
    output.add_argument("--port", type=number(int, minimum=0, maximum=65535), default=8000,
                        help="the port --serve listens on, at 127.0.0.1 (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    if args.dataset is None and not args.load:
        args.dataset = "mnist"
    for key, value in DEFAULTS[args.dataset or "mnist"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.runs is None:
        args.runs = str(Path(args.data_dir) / "runs.jsonl")
    elif args.runs == "none":
        args.runs = None
    if args.compare is not None and not args.runs:
        parser.error("--compare reads the runs file: give it with --runs PATH")
    if (args.keep_best or args.patience) and args.val_size == 0:
        parser.error("--keep-best and --patience choose epochs by the validation loss: "
                     "they need --val-size above 0")
    return args


DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}
# The settings each dataset trains with unless told otherwise, each chosen on that
# dataset's validation split: shifts help digits and cost clothing accuracy, which
# gains from less dropout and more epochs.
DEFAULTS = {"mnist": {"hidden": [576, 576], "epochs": 25, "dropout": 0.3, "augment": "shift"},
            "fashion": {"hidden": [576, 576], "epochs": 40, "dropout": 0.2, "augment": "none"}}


def defaults(key):
    """--help's words for a setting whose default depends on the dataset."""
    text = {name: ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in ((name, DEFAULTS[name][key]) for name in DEFAULTS)}
    if text["mnist"] == text["fashion"]:
        return f"default: {text['mnist']}"
    return f"default: {text['mnist']}; {text['fashion']} for fashion"


def number(kind, minimum=None, maximum=None, above=None):
    """An argparse type: text -> kind (int or float), finite, within the given bounds."""
    bounds = [f"{sign} {limit}" for sign, limit in ((">", above), (">=", minimum),
                                                    ("<=", maximum)) if limit is not None]

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value) or (above is not None and not value > above) or \
                (minimum is not None and value < minimum) or \
                (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f"must be {' and '.join(bounds) or 'finite'}, got {text}")
        return value
    return convert


def probability(text):
    value = number(float, minimum=0)(text)
    if not value < 1:
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


def mirror_url(text):
    """--mirror: an http(s):// URL, an absolute file:/// URL, or a folder path."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        raise argparse.ArgumentTypeError(
            "a mirror URL with a user name or password is not supported (and not printed); "
            "download the files yourself and pass their folder")
    if parts.scheme in ("http", "https") and parts.hostname:
        return text
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise argparse.ArgumentTypeError(
                f"{text!r} names the host {parts.netloc!r}: a file URL needs three slashes "
                f"and an absolute path, like file:///home/me/mnist")
        return text
    if not parts.scheme and text and os.path.isdir(text):
        return Path(text).resolve().as_uri() + "/"
    raise argparse.ArgumentTypeError(
        f"must be an http:// or https:// URL, a file:///absolute/path URL or an existing "
        f"folder; got {text!r}")


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


def check_writable(path):
    """Raise DataError unless a file can be created at path: checked before training, so
    a typo in --save or --report does not cost the run."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"--save/--report/--runs {path}: that is a folder; name a file in "
                        f"it, like {path / 'model.npz'}")
    folder = path.parent
    if not folder.is_dir():
        raise DataError(f"--save/--report/--runs {path}: the folder {folder} does not "
                        f"exist; create it first")
    try:
        descriptor, probe = tempfile.mkstemp(dir=folder, prefix=".mnist-write-test-")
        os.close(descriptor)
        os.remove(probe)
    except OSError as error:
        raise DataError(f"--save/--report/--runs {path}: cannot write in {folder} "
                        f"({describe(error)})") from error


# ---------------------------------------------------------------- the runs file

def record_run(path, args, argv, history, test_accuracy, seconds, failure=None):
    """Append one line of JSON to the runs file: when, the command, every setting, the
    history without the layer details, the test accuracy, the doctor's findings and the
    time; for a run that diverged, failure (its error) is the first finding. The line
    goes out in one write to a file opened for appending, then to disk: a crash leaves
    the file as it was, or (at worst) a last line read_runs() skips."""
    settings = {key: getattr(args, key) for key in RUN_SETTINGS}
    record = {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "command": shlex.join(["python", "mnist.py",
                                     *(sys.argv[1:] if argv is None else argv)]),
              "settings": settings,
              "history": [{key: value for key, value in epoch.items()
                           if key not in ("layers", "settings")} for epoch in history],
              "test_accuracy": test_accuracy, "seconds": round(seconds, 1),
              "findings": ([{"check": "diverged", "seen": failure}] if failure else []) +
                          [{"check": found["check"], "seen": found["seen"]}
                           for found in nn.diagnose(history)]}
    line = (json.dumps(record) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    log(f"recorded the run in {path} (see --compare)")


def read_runs(path):
    """The runs in a runs file, numbered from 1 in the order they were recorded; a line
    that is not a whole run (cut short by a crash, or edited) is skipped with a warning
    that names its line number."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read(MAX_RUNS_FILE + 1)
    except FileNotFoundError:
        return []
    if len(lines) > MAX_RUNS_FILE:
        raise DataError(f"{path} is over {MAX_RUNS_FILE // 1_000_000} MB: start a new one "
                        f"with --runs")
    runs = []
    for number, line in enumerate(lines.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)
            if not isinstance(run, dict) or not {"settings", "history", "test_accuracy",
                                                  "seconds", "findings"} <= set(run):
                raise ValueError("not a run")
        except ValueError:
            log(f"warning: {path} line {number} is not a recorded run; skipped")
            continue
        run["number"] = len(runs) + 1
        runs.append(run)
    return runs


MAX_RUNS_FILE = 50_000_000


def write_comparison(path, runs, columns):
    """--compare --report: the runs' validation accuracy curves in one chart, each
    labelled by the settings that tell it apart, and the table, in the report's style."""
    curves = {run_label(run, columns): ([epoch["epoch"] for epoch in run["history"]],
                                        [None if epoch.get("val_accuracy") is None
                                         else 100 * epoch["val_accuracy"]
                                         for epoch in run["history"]]) for run in runs}
    losses = {run_label(run, columns): ([epoch["epoch"] for epoch in run["history"]],
                                        [epoch.get("val_loss") for epoch in run["history"]])
              for run in runs}
    rows = "".join(f"<tr><td>#{run['number']}</td>" + "".join(
        f"<td>{html.escape(setting_text(run['settings'].get(key)))}</td>" for key in columns)
        + f"<td>{percent(best_val_accuracy(run))}</td><td>{percent(run['test_accuracy'])}</td>"
        f"<td>{run['seconds']:.0f} s</td><td>{html.escape(run['findings'][0]['check'] if run['findings'] else '-')}</td>"
        f"<td class='command'>{html.escape(run.get('command', ''))}</td></tr>"
        for run in best_first(runs))
    head = "".join(f"<th>{html.escape(name)}</th>" for name in
                   ["run", *columns, "best val", "test", "time", "doctor", "command"])
    body = [f"<h1>{plural(len(runs), 'run')} compared</h1>",
            "<div class='row'>",
            svg_chart(curves, "Validation accuracy per epoch", "epoch", "accuracy (%)",
                      y_range=(100, 100), width=480, height=300),
            svg_chart(losses, "Validation loss per epoch", "epoch", "loss", log_y=True,
                      width=480, height=300),
            "</div><p>Each run is labelled by the settings that differ between the runs "
            "shown; the table has the rest.</p>",
            f"<table class='runs'><tr>{head}</tr>{rows}</table>"]
    write_page(path, "runs compared", body)


# ---------------------------------------------------------------- fetching files
# The original MNIST host has answered 403, 503, HTML with status 200 and a bad
# certificate in its time, so every file has several mirrors, and any failure of one moves
# on to the next. Nothing enters the cache unchecked, and nothing is ever half written.

GZIP_MAGIC = b"\x1f\x8b"
NO_NAME = "host name did not resolve (no network?)"
SPEED_FLOOR = 10_000   # bytes per second: a mirror slower than this for --timeout s is left


def fetch(name, folder, mirrors, sha256, size, timeout=30.0, log=log, failures=None):
    """The verified, decompressed bytes of the file `name`, from the cache or a mirror.

    The cache is `folder`: a file there named `name` or `name.gz` (ours, or one a user put
    there) is used if its content passes the checksum; one that does not is replaced.
    Else each mirror's `name.gz` is tried in turn; the first that passes is cached as
    `name`. Any failure of a mirror (refused, 404, HTML, truncated, too slow, wrong
    checksum) moves on to the next; failures ({mirror: (reason, unreachable)}) records
    why, and a mirror that could not be reached at all is not tried again for the other
    files. A cache that cannot be written costs a warning, not the run.
    """
    folder = Path(folder)
    failures = {} if failures is None else failures
    remove_leftovers(folder, name)
    max_bytes = size + (1 << 20)  # a .gz can be a little larger than its content
    stale, data = [], None
    for path in (folder / name, folder / (name + ".gz")):
        if not os.path.lexists(path):
            continue
        try:
            data = decompress(read_local(path, max_bytes), path.name, size)
            verify(data, path.name, sha256)
            break
        except (OSError, DataError) as error:
            log(f"cached {path} is unusable ({describe(error)}); fetching it again")
            stale.append(path)
            data = None
    for mirror in mirrors if data is None else []:
        if failures.get(mirror, ("", False))[1]:
            continue                                   # unreachable for an earlier file
        try:
            data = decompress(download(mirror + name + ".gz", timeout, max_bytes, log),
                              name + ".gz", size)
            verify(data, name, sha256)
        # URLError and HTTPError are OSErrors; IncompleteRead is an HTTPException
        except (OSError, ValueError, http.client.HTTPException, DataError) as error:
            unreachable = isinstance(error, urllib.error.URLError) and \
                not isinstance(error, urllib.error.HTTPError)
            failures[mirror] = (describe(error), unreachable)
            data = None
            continue
        if folder / name not in stale:
            stale.append(folder / name)  # not cached yet: written below
        break
    if data is None:
        raise DataError(f"could not get {name}: " + "; ".join(
            f"{mirror}: {reason}" for mirror, (reason, _) in failures.items()))
    for path in stale:
        try:
            if path == folder / name:
                write_atomically(path, data)
            else:
                path.unlink()
        except OSError as error:
            log(f"warning: could not update the cache {path} ({describe(error)}); carrying on "
                f"with the data in memory. Point --data-dir at a folder you can write to.")
    return data


def download(url, timeout, max_bytes, log=log):
    """The body of `url` as bytes, at most max_bytes of it, with a progress line on stderr.

    `timeout` bounds each wait for the server; and like curl's --speed-limit, a download
    that stays below SPEED_FLOOR bytes a second for `timeout` seconds is given up on, so
    a mirror that trickles fails over in seconds while a slow but steady one finishes.
    """
    if url.startswith("file:"):
        return read_local(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), max_bytes)
    request = urllib.request.Request(url, headers={"User-Agent": "nn.py-mnist/1.0"})
    with OPENER.open(request, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        if total > max_bytes:
            raise DataError(f"the server offers {total:,} bytes, more than the file can be")
        log(f"downloading {url}")
        show_progress = sys.stderr.isatty()
        chunks, received = [], 0
        window_start, window_bytes = time.monotonic(), 0
        while True:
            chunk = response.read1(1 << 16)   # returns what has arrived, so we keep the clock
            if not chunk:
                break
            received += len(chunk)
            window_bytes += len(chunk)
            if received > max_bytes:
                raise DataError(f"more than {max_bytes:,} bytes arrived; not this file")
            elapsed = time.monotonic() - window_start
            if elapsed >= timeout:
                if window_bytes < SPEED_FLOOR * elapsed:
                    raise DataError(f"too slow: {window_bytes:,} bytes in the last "
                                    f"{elapsed:.0f} s")
                window_start, window_bytes = time.monotonic(), 0
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


class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http:// and https:// only (urllib would also follow ftp://)."""

    def redirect_request(self, request, fp, code, message, headers, new_url):
        scheme = urllib.parse.urlsplit(new_url).scheme
        if scheme not in ("http", "https"):
            raise DataError(f"refused a redirect to a {scheme}:// address: not http(s)")
        return super().redirect_request(request, fp, code, message, headers, new_url)


OPENER = urllib.request.build_opener(HttpOnlyRedirects)


def describe(error):
    """A one-line reason for a failed download, without a traceback."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        if isinstance(error.reason, socket.gaierror):
            return NO_NAME
        return f"{error.reason}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)


def read_local(path, max_bytes):
    """The bytes of a regular file of at most max_bytes (a FIFO or device would hang us,
    /dev/zero would fill memory): for file:// mirrors and the cache."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path} is not a regular file")
    if info.st_size > max_bytes:
        raise DataError(f"{path} has {info.st_size:,} bytes, more than the file can be")
    with open(path, "rb") as file:
        return file.read(max_bytes + 1)


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


def remove_leftovers(folder, name):
    """Delete the temporary files (name*.partial) that a killed run left in the cache. A
    live run writes one for well under a second, so ten minutes old means abandoned."""
    try:
        for path in folder.glob(name + "*.partial"):
            if time.time() - path.lstat().st_mtime > 600:
                path.unlink()
    except OSError:
        pass  # an unreadable cache is reported where it is read


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


# ---------------------------------------------------------------- pictures: PNG files
# A PNG file is a signature and a list of chunks, each: length, a 4-letter type, data, and
# a CRC-32 of type and data. IHDR says width, height and pixel format; IDAT holds the
# pixel rows, each row led by a filter byte, all compressed with zlib; IEND ends it.
# (The PNG specification, ISO/IEC 15948, sections 5, 9 and 11.)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type: grey, RGB, palette, grey+alpha, RGBA


def read_image(path):
    """uint8 pixels (H, W, C) of a PNG, PGM or PPM file; DataError for anything else."""
    try:
        data = read_local(path, 200_000_000)
    except OSError as error:
        raise DataError(f"{path}: {describe(error)}") from error
    if data[:2] in (b"P5", b"P6"):
        return read_pnm(data, path)
    return read_png(data, path)


def read_png(data, name):
    """Pixels of an 8-bit, non-interlaced PNG as uint8 (H, W, C): C = 1 grey, 2 grey +
    alpha, 3 RGB, 4 RGBA (palette images come back as RGB or RGBA). Anything else gets
    a DataError that names the file and says why."""
    if not data.startswith(PNG_SIGNATURE):
        kind = "a JPEG" if data.startswith(b"\xff\xd8") else "not a PNG"
        raise DataError(f"{name}: {kind} file (no PNG signature); save it as PNG or PGM")
    chunks, position = {}, len(PNG_SIGNATURE)
    while position < len(data):
        if position + 8 > len(data):
            raise DataError(f"{name}: truncated PNG (a chunk header is cut off)")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc = data[position + 8 + length:position + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise DataError(f"{name}: truncated PNG (the {kind.decode('latin-1')} chunk is cut off)")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise DataError(f"{name}: corrupt PNG (CRC mismatch in {kind.decode('latin-1')})")
        chunks.setdefault(kind, []).append(body)
        position += 12 + length
        if kind == b"IEND":
            break
    if b"IHDR" not in chunks or b"IDAT" not in chunks or b"IEND" not in chunks:
        raise DataError(f"{name}: truncated or incomplete PNG (needs IHDR, IDAT and IEND)")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                       chunks[b"IHDR"][0])
    if colour_type not in PNG_CHANNELS or depth != 8:
        raise DataError(f"{name}: {depth}-bit PNG of colour type {colour_type} is not "
                        f"supported; save it as an 8-bit PNG")
    if interlace:
        raise DataError(f"{name}: interlaced PNG is not supported; save it without interlacing")
    if width * height > 50_000_000:
        raise DataError(f"{name}: {width} x {height} pixels is too large for a digit")
    channels = PNG_CHANNELS[colour_type]
    try:
        raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    except zlib.error as error:
        raise DataError(f"{name}: corrupt PNG image data ({error})") from None
    pixels = unfilter(raw, height, width * channels, channels, name)
    pixels = pixels.reshape(height, width, channels)
    if colour_type == 3:
        if b"PLTE" not in chunks:
            raise DataError(f"{name}: palette PNG without its palette (PLTE)")
        palette = np.frombuffer(chunks[b"PLTE"][0], dtype=np.uint8).reshape(-1, 3)
        if pixels.max() >= len(palette):
            raise DataError(f"{name}: a pixel names palette entry {pixels.max()} of {len(palette)}")
        colours = palette[pixels[:, :, 0]]
        if b"tRNS" in chunks:                  # the alpha of the first palette entries
            alpha = np.full(len(palette), 255, dtype=np.uint8)
            given = np.frombuffer(chunks[b"tRNS"][0], dtype=np.uint8)[:len(palette)]
            alpha[:len(given)] = given
            colours = np.dstack([colours, alpha[pixels[:, :, 0]]])
        pixels = colours
    return pixels


def unfilter(data, height, stride, bpp, name):
    """Undo PNG's per-row filters (spec section 9): raw bytes (height, stride).

    Each row starts with its filter: 0 none, 1 Sub (minus the byte bpp to the left),
    2 Up (minus the byte above), 3 Average (of left and above), 4 Paeth (minus whichever
    of left, above, upper-left is nearest to left + above - upper-left). Sub and Up run
    on whole rows at once. Average and Paeth need the byte just decoded to their left and
    the row above, so an image that uses them is decoded one anti-diagonal of pixels at a
    time (a pixel's left, upper and upper-left neighbours all lie on earlier ones): about
    height + width steps, each over a diagonal's pixels at once.
    """
    if len(data) != height * (stride + 1):
        raise DataError(f"{name}: the image data holds {len(data):,} bytes, not the "
                        f"{height * (stride + 1):,} that its size needs (truncated or corrupt)")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(height, stride + 1)
    kinds, lines = rows[:, 0], rows[:, 1:]
    if (kinds > 4).any():
        y = int(np.flatnonzero(kinds > 4)[0])
        raise DataError(f"{name}: row {y} has unknown PNG filter type {kinds[y]}")
    if (kinds >= 3).any():
        return unfilter_diagonals(lines, kinds, bpp)
    out = np.zeros((height + 1, stride), dtype=np.uint8)          # row 0: the zeros above
    for y in range(height):
        kind, line, above = kinds[y], lines[y], out[y]
        if kind == 0:
            out[y + 1] = line
        elif kind == 1:
            for start in range(bpp):       # each byte adds the decoded byte bpp to its left
                out[y + 1, start::bpp] = np.cumsum(line[start::bpp], dtype=np.uint64) % 256
        else:
            out[y + 1] = line + above
    return out[1:]


def unfilter_diagonals(lines, kinds, bpp):
    """unfilter() for images with Average or Paeth rows: lines (H, W * bpp) of filtered
    bytes, kinds (H,) their filters. Pixel (y, x) is decoded at step y + x, all of a
    step's pixels at once; out has a row and a column of zeros above and to the left,
    as PNG has them."""
    height, width = len(lines), lines.shape[1] // bpp
    raw = lines.reshape(height, width, bpp).astype(np.int16)
    out = np.zeros((height + 1, width + 1, bpp), dtype=np.int16)
    for step in range(height + width - 1):
        y = np.arange(max(0, step - width + 1), min(height, step + 1))
        x = step - y
        left, up, up_left = out[y + 1, x], out[y, x + 1], out[y, x]             # (n, bpp)
        kind = kinds[y][:, None]
        guess = np.where(kind == 1, left, np.where(kind == 2, up, 0))
        guess = np.where(kind == 3, (left + up) // 2, guess)
        p = left + up - up_left                                    # Paeth's predictor
        near_left, near_up, near_up_left = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
        paeth = np.where((near_left <= near_up) & (near_left <= near_up_left), left,
                         np.where(near_up <= near_up_left, up, up_left))
        guess = np.where(kind == 4, paeth, guess)
        out[y + 1, x + 1] = (raw[y, x] + guess) & 255
    return out[1:, 1:].reshape(height, width * bpp).astype(np.uint8)


def read_pnm(data, name):
    """Pixels of a binary PGM (P5, grey) or PPM (P6, RGB) file with 8-bit values, as
    uint8 (H, W, C). The header is the magic, width, height and maximum value, separated
    by whitespace, with # comments allowed; then the raw bytes."""
    fields, position = [], 2
    while len(fields) < 3:
        while position < len(data) and data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.find(b"\n", position) + 1 or len(data)
            continue
        start = position
        while position < len(data) and data[position:position + 1].isdigit():
            position += 1
        if start == position:
            raise DataError(f"{name}: damaged PGM/PPM header")
        fields.append(int(data[start:position]))
    width, height, maxval = fields
    if not 0 < maxval < 256:
        raise DataError(f"{name}: PGM/PPM with maximum value {maxval} is not supported (8-bit only)")
    channels = 1 if data[:2] == b"P5" else 3
    pixels = data[position + 1:position + 1 + width * height * channels]
    if len(pixels) != width * height * channels:
        raise DataError(f"{name}: truncated PGM/PPM ({len(pixels):,} of "
                        f"{width * height * channels:,} bytes)")
    values = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, channels)
    return (values.astype(np.uint16) * 255 // maxval).astype(np.uint8)


def write_png(pixels):
    """The bytes of a PNG file of uint8 pixels: (H, W) grey or (H, W, 3) RGB. Every row
    gets filter 0 (stored as it is); zlib does the compressing."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    rows = pixels.reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def png_chunk(kind, data):
    """length, type, data, CRC-32 of type + data: one PNG chunk."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# ---------------------------------------------------------------- the report page
# One HTML file that opens offline in any browser: charts as inline SVG, pictures as PNG
# files embedded as data: URIs (base64), no script. Everything in it is escaped text.

def write_report(path, title, facts, history, params, probs, labels, images, classes,
                 samples=None):
    """Write the report page to path (atomically). facts: (name, value) pairs shown at
    the top; history: train()'s (empty for a loaded model); samples: augmented versions
    of one training digit, or None."""
    predictions = probs.argmax(axis=1)
    counts = nn.confusion_matrix(labels, predictions, len(classes))
    body = [f"<h1>{html.escape(title)}</h1>",
            "<table class='facts'>" + "".join(f"<tr><th>{html.escape(str(name))}</th><td>"
                                                f"{html.escape(str(value))}</td></tr>"
                                                for name, value in facts) + "</table>"]
    if history:
        epochs = [record["epoch"] for record in history]
        losses = {"training loss": (epochs, [r["loss"] for r in history])}
        accuracies = {"training": (epochs, [100 * r["train_accuracy"] for r in history])}
        caption = ("Training figures are averaged over each epoch as it was trained, with "
                   "dropout and augmentation on")
        if history[0]["val_loss"] is not None:          # none with --val-size 0
            losses["validation loss"] = (epochs, [r["val_loss"] for r in history])
            accuracies["validation"] = (epochs, [100 * r["val_accuracy"] for r in history])
            caption += ("; validation is measured at the epoch's end on held-out images, as "
                        "the network really is")
        body.append("<h2>Learning curves</h2><div class='row'>")
        body.append(svg_chart(losses, "Loss per epoch", "epoch", "cross-entropy", log_y=True))
        body.append(svg_chart(accuracies, "Accuracy per epoch", "epoch", "accuracy (%)",
                              y_range=(100, 100)))
        body.append(f"</div><p>{caption}.</p>")
        body.append("<h2>How each layer learned (the training doctor)</h2><div class='row'>")
        layers = range(len(history[0]["layers"]))
        body.append(svg_chart({f"layer {i + 1}": (epochs, [r["layers"][i]["update_ratio"]
                                                           for r in history]) for i in layers},
                              "Update / weight, per step", "epoch", "ratio", log_y=True))
        body.append(svg_chart({f"layer {i + 1}": (epochs, [100 * (r["layers"][i]["dead"] or 0)
                                                           for r in history])
                               for i in layers if history[0]["layers"][i]["dead"] is not None},
                              "Dead units (never fired)", "epoch", "% of the layer",
                              y_range=(0, 10)))
        body.append("</div><p>A healthy update ratio is about 1e-3 (CS231n); with a decaying "
                    "schedule it falls as the learning rate does.</p>")
        findings = nn.diagnose(history)
        body.append("<ul>" + "".join(f"<li><b>{html.escape(f['check'])}</b>: "
                                     f"{html.escape(f['seen'])}. Likely cause: "
                                     f"{html.escape(f['cause'])}. Try: {html.escape(f['try'])}.</li>"
                                     for f in findings) + "</ul>" if findings else
                    "<p>Nothing looks wrong by the doctor's rules of thumb.</p>")
    else:
        body.append("<p>No training history to draw: a saved model, or a run stopped "
                    "during its first epoch.</p>")
    body.append("<h2>Confusion matrix (test set)</h2>" + confusion_table(counts, classes))
    body.append("<h2>What the first layer looks for</h2>"
                f"<img class='pixels' alt='first-layer weights' src='{weight_tiles(params['W1'])}'>"
                "<p>Each square is one hidden unit's 784 weights, laid out as the image they "
                "read: red where ink excites the unit, blue where ink silences it. Smooth "
                "strokes and blobs are learned features; salt-and-pepper noise means the unit "
                "has not learned much yet (or is not used).</p>")
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:24]
    body.append(f"<h2>The {len(wrong)} mistakes it was surest of</h2><div class='row'>")
    for i in wrong:
        body.append(f"<figure><img class='pixels' alt='test image {i}' src='{png_uri(images[i], 3)}'>"
                    f"<figcaption>#{i}: true {html.escape(classes[labels[i]])}<br>said "
                    f"{html.escape(classes[predictions[i]])} "
                    f"({100 * probs[i, predictions[i]]:.1f}%)</figcaption></figure>")
    body.append("</div>")
    if samples is not None:
        body.append("<h2>One training image, as augmentation shows it</h2><div class='row'>" +
                    "".join(f"<img class='pixels' alt='augmented sample' src='{png_uri(s, 3)}'>"
                            for s in samples) + "</div><p>Each epoch the network sees every "
                    "training image moved (and turned or bent) a new way, so it cannot learn "
                    "pixel positions by heart: it has to learn the strokes.</p>")
    write_page(path, title, body)


def write_page(path, title, body):
    """An HTML page of the body's parts, in the report's style, written atomically."""
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
            ".row{display:flex;flex-wrap:wrap;gap:12px}"
            "table{border-collapse:collapse}td,th{padding:3px 7px;text-align:right}"
            ".confusion td{border:1px solid #ccc;min-width:2.5em}"
            ".facts th,.facts td{text-align:left}"
            "img.pixels{image-rendering:pixelated}"
            "figure{margin:0;font-size:12px;text-align:center}"
            ".runs td,.runs th{border-bottom:1px solid #ddd}"
            ".runs td.command{text-align:left;font-family:monospace;font-size:11px}"
            ".runs th:last-child{text-align:left}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    write_atomically(Path(path), page.encode("utf-8"))


def png_uri(pixels, zoom=1):
    """A data: URI of a PNG of pixels (uint8, or floats in [0, 1]), each pixel zoom x zoom."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)
    pixels = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return "data:image/png;base64," + base64.b64encode(write_png(pixels)).decode("ascii")


def svg_chart(series, title, x_label, y_label, log_y=False, y_range=None, width=460,
              height=260):
    """A line chart as an SVG string: series is {name: (xs, ys)}, drawn in distinct
    colours, axes with round-numbered ticks, the labels given, and the legend below the
    plot, where it hides no curve. y_range = (low, high) fixes the axis (accuracy in %:
    (low, 100)); a high that is a bound of its own, like (0, 10) for a share that is
    mostly near 0, grows to fit larger values."""
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    left, right, top, bottom = 60, 10, 28, 42
    points = [(x, y) for xs, ys in series.values() for x, y in zip(xs, ys)
              if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    if not points:
        return ""
    value = (lambda y: math.log10(y)) if log_y else (lambda y: y)
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    y_low, y_high = min(value(p[1]) for p in points), max(value(p[1]) for p in points)
    if log_y:
        y_low, y_high = math.floor(y_low), math.ceil(y_high + 1e-9)
    elif y_range is not None:
        y_low, y_high = min(y_range[0], y_low), max(y_range[1], y_high)
    else:
        margin = (y_high - y_low) * 0.05 or 0.5
        y_low, y_high = y_low - margin, y_high + margin
    x_high = x_high if x_high > x_low else x_low + 1
    plot_height = height - top - bottom
    height += 15 * len(series) + 8                             # a legend row per series

    def px(x):
        return left + (x - x_low) / (x_high - x_low) * (width - left - right)

    def py(y):
        return top + (y_high - value(y)) / (y_high - y_low) * plot_height

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" '
             f'font-weight="bold">{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" '
             f'height="{plot_height}" fill="none" stroke="#888"/>']
    y_ticks = [10 ** k for k in range(int(y_low), int(y_high) + 1)] if log_y else \
        nice_ticks(y_low, y_high)
    for tick in y_ticks:
        parts.append(f'<line x1="{left - 4}" x2="{width - right}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#ddd"/><text x="{left - 6}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    x_ticks = [t for t in nice_ticks(x_low, x_high, 6) if t == int(t)]
    axis = top + plot_height
    for tick in x_ticks:
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{axis}" '
                     f'y2="{axis + 4}" stroke="#888"/><text x="{px(tick):.1f}" '
                     f'y="{axis + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{axis + 36}" '
                 f'text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + plot_height / 2}) rotate(-90)" '
                 f'text-anchor="middle">{html.escape(y_label)}</text>')
    for k, (name, (xs, ys)) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys)
                        if y is not None and math.isfinite(y) and (y > 0 or not log_y))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(xs) < 40:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>'
                      for x, y in zip(xs, ys)
                      if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
        legend = axis + bottom + 12 + 15 * k
        parts.append(f'<rect x="{left}" y="{legend - 4}" width="12" height="3" '
                     f'fill="{colour}"/><text x="{left + 16}" y="{legend}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def nice_ticks(low, high, count=5):
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) from low to high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if raw <= m * step)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]


def weight_tiles(W1, n_units=64, columns=8, zoom=3):
    """The first layer's weights of n_units hidden units, each as a 28 x 28 picture in a
    grid (see weight_pictures)."""
    rgb = weight_pictures(W1, range(min(n_units, W1.shape[1])))
    rows = math.ceil(len(rgb) / columns)
    grid = np.ones((rows * 29 + 1, columns * 29 + 1, 3)) * 0.6     # grey lines between tiles
    for k, tile in enumerate(rgb):
        y, x = divmod(k, columns)
        grid[1 + 29 * y:29 * (y + 1), 1 + 29 * x:29 * (x + 1)] = tile
    return png_uri(grid, zoom)


def weight_pictures(W1, units):
    """The first-layer weights of the given units as 28 x 28 RGB pictures (K, 28, 28, 3):
    red where the unit is excited by ink, blue where ink holds it back, white for 0.
    Each is scaled by its own largest |weight|, so weak units still show."""
    weights = W1[:, list(units)].T.reshape(-1, 28, 28)
    weights = weights / np.abs(weights).max(axis=(1, 2), keepdims=True).clip(1e-12)
    positive, negative = np.clip(weights, 0, 1), np.clip(-weights, 0, 1)
    return np.stack([1 - negative, 1 - positive - negative, 1 - positive], axis=-1)


def confusion_table(counts, classes):
    """The confusion matrix as an HTML table: counts shaded by their share of the true
    class's row (deep blue on the diagonal when right, red off it), with recall per row
    and precision per column."""
    precision, recall = nn.precision_recall(counts)
    share = counts / counts.sum(axis=1, keepdims=True).clip(1)
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in range(len(classes)))
    lines = [f'<table class="confusion"><tr><th>true \\ predicted</th>{head}<th>recall</th></tr>']
    for t, row in enumerate(counts):
        cells = []
        for p, count in enumerate(row):
            strength = share[t, p] if t == p else min(1.0, 20 * share[t, p])
            colour = (f"rgba(31,119,180,{strength:.2f})" if t == p
                      else f"rgba(214,39,40,{strength:.2f})")
            ink = ";color:white" if strength > 0.55 else ""          # readable on deep blue
            cells.append(f'<td style="background:{colour}{ink}">{count}</td>')
        name = str(t) if classes[t] == str(t) else f"{t} {classes[t]}"
        lines.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}"
                     f"<td>{100 * recall[t]:.1f}%</td></tr>")
    lines.append("<tr><th>precision</th>" + "".join(f"<td>{100 * p:.1f}%</td>" for p in precision)
                 + "<td></td></tr></table>")
    return "\n".join(lines)



# ---------------------------------------------------------------- the local page: --serve
# A web server on this computer only (127.0.0.1), from the standard library. GET / is one
# HTML page, its CSS and JavaScript inline, where you write digits with the mouse, a
# finger or a pen, or open a photo (the browser decodes any format it shows). The page
# sends the grey pixels to POST /read as JSON and shows what comes back. Every request is
# bounded; a bad one gets HTTP 400 and a one-line JSON error, and the server goes on.

MAX_BODY = 4_000_000          # bytes of JSON a request may send
MAX_PIXELS = 2_000_000        # pixels an image may have (the page sends at most 1000 x 1000)
TOP_UNITS = 8                 # first-layer units shown for a single digit


def serve(params, activation, port, judge=None):
    """--serve: answer the page and POST /read on 127.0.0.1:port until Ctrl-C."""
    try:
        server = make_server(params, activation, port, judge)
    except OSError as error:
        raise DataError(f"cannot listen on 127.0.0.1:{port} ({describe(error)}); choose "
                        f"another port with --port N") from error
    print(f"reading digits at http://127.0.0.1:{server.server_address[1]}/  "
          f"(open it in a browser; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log("stopped")
    finally:
        server.server_close()
    return 0


def make_server(params, activation, port, judge=None):
    """An http.server bound to 127.0.0.1:port (0: any free port) that reads numbers with
    params (and the reader's judge, if given); call its serve_forever() to run it."""
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 20                                  # seconds a client may keep us waiting

        def do_GET(self):
            if self.path.split("?")[0] != "/":
                return self.answer(404, {"error": f"no page {self.path[:100]!r}; try /"})
            self.send(200, "text/html; charset=utf-8", PAGE.encode("utf-8"))

        def do_POST(self):
            if self.path != "/read":
                return self.answer(404, {"error": "POST to /read"})
            try:
                pixels = request_pixels(self.headers, self.rfile)
                reading = read_number(pixels, params, activation, "the image", judge)
                self.answer(200, reading_json(reading, params, activation))
            except (DataError, ValueError, KeyError, TypeError) as error:
                self.answer(400, {"error": str(error).splitlines()[0]})
            except Exception as error:            # a bug of ours: say so, keep serving
                log(f"error answering POST /read: {type(error).__name__}: {error}")
                self.answer(500, {"error": f"the server failed ({type(error).__name__})"})

        def answer(self, status, reply):
            self.send(status, "application/json", json.dumps(reply).encode("utf-8"))

        def send(self, status, kind, body):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass                                      # no line per request

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def request_pixels(headers, body):
    """uint8 pixels (H, W) from a POST /read request: JSON {"width": W, "height": H,
    "pixels": base64 of the W * H grey levels, row by row, 0 black, 255 white}; a
    ValueError saying what is wrong with anything else."""
    length = headers.get("Content-Length")
    if length is None or not length.isdigit():
        raise ValueError("send a Content-Length header")
    if int(length) > MAX_BODY:
        raise ValueError(f"the request has {int(length):,} bytes; at most {MAX_BODY:,}")
    try:
        request = json.loads(body.read(int(length)))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("the request is not JSON") from None
    if not isinstance(request, dict):
        raise ValueError('send {"width": W, "height": H, "pixels": base64 of W * H bytes}')
    width, height, encoded = (request.get(key) for key in ("width", "height", "pixels"))
    if not (type(width) is int and type(height) is int and width > 0 and height > 0):
        raise ValueError(f"width and height must be whole numbers > 0, got {width!r} and "
                         f"{height!r}")
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width} x {height} pixels is too large: at most {MAX_PIXELS:,}")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (TypeError, ValueError):
        raise ValueError("pixels must be base64 text") from None
    if len(data) != width * height:
        raise ValueError(f"{len(data):,} pixels sent for a {width} x {height} image "
                         f"({width * height:,})")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width)


def reading_json(reading, params, activation):
    """read_number()'s answer as JSON for the page: the text and digits, each digit's ten
    probabilities, the 28 x 28 inputs (as numbers and as PNG pictures), where each digit
    was found, and for a single digit the first-layer units that fired most."""
    units = []
    if len(reading["digits"]) == 1 and "W2" in params:          # a hidden layer to show
        _, cache = nn.forward(params, reading["inputs"][:1].reshape(1, -1), activation)
        fired = cache["a1"][0]                                  # the first layer's (H1,)
        top = np.argsort(-fired)[:TOP_UNITS]
        for k, picture in zip(top, weight_pictures(params["W1"], top)):
            units.append({"unit": int(k), "fired": round(float(fired[k]), 3),
                          "picture": png_uri(picture)})
    return {"text": reading["text"], "digits": reading["digits"].tolist(),
            "probs": np.round(reading["probs"], 4).tolist(),
            "inputs": np.round(reading["inputs"], 3).tolist(),
            "pictures": [png_uri(digit) for digit in reading["inputs"]],
            "boxes": reading["boxes"].tolist(), "units": units}


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nn.py reads your handwriting</title>
<style>
body{font-family:sans-serif;max-width:960px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.note{color:#555;font-size:.9em;margin:.3em 0 1em}
canvas#pad{border:1px solid #999;background:#fff;touch-action:none;cursor:crosshair;
 width:100%;max-width:900px;display:block}
.tools{margin:.6em 0;display:flex;gap:.8em;align-items:center;flex-wrap:wrap}
button,label.file{font-size:1em;padding:.35em .9em;border:1px solid #888;border-radius:4px;
 background:#f4f4f4;cursor:pointer}
#drop.over canvas{outline:3px dashed #1f77b4}
#reading{font-size:3em;font-weight:bold;letter-spacing:.1em;min-height:1.2em;margin:.2em 0}
#status{color:#a00;min-height:1.2em}
.digits,.units{display:flex;flex-wrap:wrap;gap:14px}
.digit{border:1px solid #ddd;padding:6px;border-radius:4px;text-align:center}
.digit img,.unit img{image-rendering:pixelated;display:block;margin:auto}
.bars{display:grid;grid-template-columns:1.2em 100px 3.2em;gap:1px 4px;font-size:11px;
 text-align:left;margin-top:4px}
.bar{background:#1f77b4;height:9px;align-self:center}
.unit{text-align:center;font-size:12px}
h2{font-size:1.05em;margin:1.2em 0 .2em}
</style></head><body>
<h1>Write a number</h1>
<p class="note">Write one digit or several side by side with the mouse, a finger or a pen.
After each stroke the network reads what you wrote. Or open (or drop here) a photo of a
handwritten number: dark ink on light paper, or light on dark.</p>
<div id="drop"><canvas id="pad" width="900" height="300"></canvas></div>
<div class="tools"><button id="clear">Clear</button>
<label class="file">Open an image&hellip;<input id="file" type="file" accept="image/*" hidden></label>
<span id="status"></span></div>
<div id="reading"></div>
<p class="note" id="reading-note"></p>
<div id="results" hidden>
<h2>What the network was given</h2>
<p class="note">Each digit as it was cut out of your picture and prepared the way MNIST's
digits were (20 x 20 pixels, centred by its centre of mass in 28 x 28), with the network's
ten probabilities under it.</p>
<div class="digits" id="digits"></div>
<div id="unit-part" hidden>
<h2>What it looked at</h2>
<p class="note">The first-layer units that fired most for this digit. Each picture is one
unit's 784 weights: red where ink makes it fire, blue where ink holds it back. The number
is how strongly it fired.</p>
<div class="units" id="units"></div></div></div>
<script>
"use strict";
const pad = document.getElementById("pad"), ctx = pad.getContext("2d");
const status = document.getElementById("status");
let drawing = false, last = null, sent = 0;
function blank() {
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
}
function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", e => {
  drawing = true; last = point(e); pad.setPointerCapture(e.pointerId);
  ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(last[0] + 0.1, last[1]); ctx.stroke();
});
pad.addEventListener("pointermove", e => {
  if (!drawing) return;
  const p = point(e);
  ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke(); last = p;
});
function finish() { if (drawing) { drawing = false; read(pad); } }
pad.addEventListener("pointerup", finish);
pad.addEventListener("pointercancel", finish);
document.getElementById("clear").onclick = () => { blank(); show(null); };
function grey(canvas) {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const bytes = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < bytes.length; i++) {
    const a = data[4 * i + 3] / 255;             // transparent counts as white paper
    const g = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    bytes[i] = Math.round(g * a + 255 * (1 - a));
  }
  let text = "";
  for (let i = 0; i < bytes.length; i += 32768)
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
  return btoa(text);
}
async function read(canvas) {
  const mine = ++sent;
  status.textContent = "reading\\u2026";
  try {
    const reply = await fetch("/read", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({width: canvas.width, height: canvas.height, pixels: grey(canvas)})});
    const answer = await reply.json();
    if (mine !== sent) return;                    // a newer stroke is on its way
    if (!reply.ok) { show(null); status.textContent = answer.error; return; }
    status.textContent = ""; show(answer);
  } catch (error) { status.textContent = "no answer from the server: " + error; }
}
function element(tag, attributes, text) {
  const e = document.createElement(tag);
  for (const k in attributes) e.setAttribute(k, attributes[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function show(answer) {
  document.getElementById("results").hidden = !answer;
  document.getElementById("reading").textContent = answer ? answer.text : "";
  document.getElementById("reading-note").textContent = !answer ? "" :
    answer.digits.length === 1 ? "what the network reads: one digit" :
    "what the network reads: " + answer.digits.length + " digits, left to right";
  if (!answer) return;
  const digits = document.getElementById("digits"); digits.replaceChildren();
  answer.digits.forEach((d, k) => {
    const box = element("div", {class: "digit"});
    box.append(element("img", {src: answer.pictures[k], width: 112, height: 112,
                               alt: "input " + (k + 1)}));
    const bars = element("div", {class: "bars"});
    answer.probs[k].forEach((p, c) => {
      bars.append(element("span", {}, String(c)));
      const bar = element("span", {class: "bar"}); bar.style.width = (100 * p) + "px";
      bars.append(bar, element("span", {}, (100 * p).toFixed(1) + "%"));
    });
    box.append(bars); digits.append(box);
  });
  const units = document.getElementById("units"); units.replaceChildren();
  document.getElementById("unit-part").hidden = answer.units.length === 0;
  answer.units.forEach(u => {
    const box = element("div", {class: "unit"});
    box.append(element("img", {src: u.picture, width: 84, height: 84, alt: "unit " + u.unit}),
               element("div", {}, "unit " + u.unit + ": " + u.fired.toFixed(2)));
    units.append(box);
  });
}
async function open(file) {
  if (!file) return;
  try {
    const image = await createImageBitmap(file);
    const scale = Math.min(1, 1000 / Math.max(image.width, image.height));
    const sent = document.createElement("canvas");
    sent.width = Math.max(1, Math.round(image.width * scale));
    sent.height = Math.max(1, Math.round(image.height * scale));
    sent.getContext("2d").drawImage(image, 0, 0, sent.width, sent.height);
    blank();
    const fit = Math.min(pad.width / sent.width, pad.height / sent.height);
    ctx.drawImage(sent, (pad.width - sent.width * fit) / 2, (pad.height - sent.height * fit) / 2,
                  sent.width * fit, sent.height * fit);
    read(sent);
  } catch (error) { status.textContent = "this file is not an image the browser can open"; }
}
document.getElementById("file").onchange = e => open(e.target.files[0]);
const drop = document.getElementById("drop");
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => {
  e.preventDefault(); drop.classList.remove("over"); open(e.dataTransfer.files[0]);
});
blank();
</script></body></html>
"""


if __name__ == "__main__":
    sys.exit(run())
