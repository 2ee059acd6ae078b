"""mnist.py: teach nn.py's network to read handwritten digits, and show what it learned.

    python mnist.py                  # download MNIST once, train, report
    python mnist.py --help           # every knob, with its default
    python mnist.py --doctor         # check the setup (--find-lr: find a learning rate)
    python mnist.py --save model.npz # then: --load model.npz --predict my_number.png

The story of a run is main(), just below, its helpers after it in the order it calls
them, the command line last. The network is nn.py's. What is built on a trained network
(reading your numbers, the pages, the run log) lives in extras/, handed each mode.
"""
import argparse
import io
import json
import math
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

import nn
from extras import log       # progress and warnings, to stderr

DATASETS = {  # the SHA-256 of the decompressed files, so that any faithful mirror passes
    "mnist": {"classes": [str(digit) for digit in range(10)], "flips": False, "sha256": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/",
                    "http://yann.lecun.com/exdb/mnist/"]},      # last: it often refuses scripts
    "fashion": {"classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                            "Shirt", "Sneaker", "Bag", "Ankle boot"],
                "flips": True, "sha256": {    # flips: a mirrored shoe is a shoe, not so a 2
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
        "mirrors": ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]},
}


def main(argv=None):
    """The story of a run: the data, a network, training, the test set, what it learned."""
    args = parse_args(argv)
    from extras.bench import busy_machine_hint, cpu_reading    # is the machine busy elsewhere?
    cpus_at_start = cpu_reading()
    if args.compare is not None or args.load:
        return without_training(args)         # --compare, or a saved network's modes
    for flag, path in (("--save", args.save), ("--report", args.report)):
        if path:
            check_writable(flag, path)        # before training, not after it
    started = time.perf_counter()
    spec = DATASETS[args.dataset]
    data = load_dataset(args.dataset, args.data_dir, args.mirror, args.timeout)
    if args.runs and not os.access(Path(args.runs).parent, os.W_OK):
        log(f"warning: cannot write the run log {args.runs}; training without it (give "
            f"--runs PATH, or --runs none)")
        args.runs = None
    X_train, train_labels, X_val, val_labels = split_off_validation(data, args.val_size)
    sizes = [X_train.shape[1], *args.hidden, len(spec["classes"])]
    rng = np.random.default_rng(args.seed)
    if args.styles:                           # other hands' ways: extras/distort.py
        from extras import distort
        distort.hand_styles(X_train.reshape(-1, 28, 28), train_labels, rng, args.styles)
    init = "he" if args.activation in ("relu", "leaky_relu") else "glorot"
    params = nn.init_params(sizes, rng=rng, init=init)
    if args.find_lr or args.doctor:                    # the doctor's modes: extras/doctor.py
        from extras import doctor
        run_mode = doctor.find_lr if args.find_lr else doctor.check
        return run_mode(params, X_train, train_labels, vars(args),
                        say=lambda remedy: as_flags(remedy, args))
    print(f"{args.dataset}: {len(X_train):,} training, {args.val_size:,} validation, "
          f"{len(data['test_labels']):,} test images; network {'-'.join(map(str, sizes))}, "
          f"{args.activation}, {args.optimizer} lr {args.lr:g}, augment {args.augment}"
          f"{' + mirror' if spec['flips'] else ''}"
          f"{f' + styles {args.styles:g}' if args.styles else ''}, seed {args.seed}")
    busy_machine_hint(cpus_at_start, log)              # measured while the data loaded

    augment = make_augment(args, spec["flips"])
    should_stop = install_interrupt_handler()
    history = []                              # each epoch's record, kept if training fails
    on_epoch, on_batch, live = (lambda record: print_epoch(record, args.epochs, history)), None, None
    if args.watch:                            # the live page: extras/watch.py
        from extras import watch
        live, should_stop, on_epoch, on_batch = watch.start(
            params, args.activation, X_val, val_labels, args.epochs, args.port, should_stop, on_epoch)
    try:
        nn.train(params, X_train, train_labels, X_val=X_val, targets_val=val_labels, rng=rng,
                 augment=augment, should_stop=should_stop, **training_settings(args),
                 on_epoch=on_epoch, on_batch=on_batch)
    except FloatingPointError as error:       # diverged: a run worth recording too
        record_run(args, argv, history, None, started, failure=str(error))
        raise FloatingPointError(in_flags(str(error))) from error
    print_ending(history, should_stop(), args)

    X_test, test_labels = as_inputs(data["test_images"]), data["test_labels"].astype(np.int64)
    probs = nn.softmax(nn.outputs(params, X_test, args.activation))          # (10000, 10)
    test_accuracy = nn.accuracy(test_labels, probs.argmax(axis=1))
    if args.save:
        save_network(args, params, history, test_accuracy, should_stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from extras import doctor                 # the doctor's view of the run, on the terminal
    doctor.print_findings(history, sizes, say=lambda remedy: as_flags(remedy, args))
    print_report(probs, test_labels, data["test_images"], spec["classes"], args.show)
    print(f"\ntotal time {time.perf_counter() - started:.1f} s")
    if args.report:
        samples = None if augment is None else augment(np.repeat(X_train[:1], 8, axis=0),
                                                       np.random.default_rng(args.seed + 1))
        write_report(args, f"nn.py on {args.dataset}", [], vars(args), sizes, len(X_train),
                     history, should_stop(), params, probs, data, samples)
    record_run(args, argv, history, test_accuracy, started)
    if live is not None:
        watch.stay_up(live)
    return 0


def training_settings(args):
    """nn.train's settings from the command line's: --momentum is SGD's momentum, or
    Adam's beta1 (the decay of its running mean of the gradients)."""
    names = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "activation",
             "dropout", "schedule", "final_lr", "keep_best", "patience")
    return {name: getattr(args, name) for name in names} | \
        {"momentum" if args.optimizer == "sgd" else "beta1": args.momentum}


# ---------------------------------------------------------------- data

FILES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
         "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}  # bytes


def load_dataset(dataset, data_dir, extra_mirrors=(), timeout=30.0, splits=("train", "test")):
    """{"train_images": uint8 (N, 28, 28), "train_labels": (N,), "test_images", ...}: each
    file from the cache in data_dir/dataset or a mirror, checked by its SHA-256 (the
    fetching itself, with its deadlines and fallbacks, is extras/fetch.py's)."""
    from extras.fetch import fetch_all, read_idx
    spec, folder = DATASETS[dataset], Path(data_dir) / dataset   # MNIST and Fashion share
    mirrors = [url.rstrip("/") + "/" for url in extra_mirrors] + spec["mirrors"]  # names
    prefixes = {"train": "train", "test": "t10k"}
    names = {f"{split}_{kind}": f"{prefixes[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
             for split in splits for kind in ("images", "labels")}
    files = fetch_all(list(names.values()), folder, mirrors, spec["sha256"], FILES, timeout)
    return {key: read_idx(files[name], name) for key, name in names.items()}


def split_off_validation(data, val_size):
    """(X_train, train_labels, X_val, val_labels): the last val_size training images held
    out (views, not copies); X_val and val_labels are None for 0."""
    X_all, labels_all = as_inputs(data["train_images"]), data["train_labels"].astype(np.int64)
    del data["train_images"]  # X_all holds it now, as floats
    n_train = len(X_all) - val_size
    if n_train < 1:
        raise ValueError(f"--val-size {val_size} leaves no training images of {len(X_all)}")
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
# small affine distortions and 99.3% with elastic ones. nn.train() calls the function
# make_augment returns on each training batch, never on validation or test data.

def make_augment(args, flips):
    """augment(X_batch, rng) -> X_batch changed as --augment says, or None for none.
    flips (Fashion-MNIST) also mirrors half of the images left to right."""
    if args.augment == "none" and not flips:
        return None
    if args.augment in ("affine", "elastic"):
        from extras import distort                    # turns, shears, bends: extras/distort.py

    def augment(X_batch, rng):
        images = X_batch.reshape(-1, 28, 28)
        if args.augment == "affine":
            images = distort.affine_images(images, rng, args.shift, args.rotate, args.scale,
                                           args.shear)
        elif args.augment == "elastic":
            images = distort.elastic_images(images, rng, args.alpha, args.sigma)
        if args.augment in ("shift", "elastic") and args.shift > 0:
            images = shift_images(images, rng, args.shift)
        if flips:
            mirrored = rng.random(len(images)) < 0.5
            images = np.where(mirrored[:, None, None], images[:, :, ::-1], images)
        return images.reshape(X_batch.shape).astype(X_batch.dtype, copy=False)
    return augment


def shift_images(images, rng, max_shift):
    """Move each image (N, 28, 28) by its own random whole number of pixels dy, dx in
    [-max_shift, max_shift], filling with black. Images that drew the same shift move
    together: at most (2 max_shift + 1)**2 slice copies, no loop over images."""
    n, height, width = images.shape
    shifted = np.zeros_like(images)
    dy, dx = rng.integers(-max_shift, max_shift + 1, (2, n))
    for y in range(-max_shift, max_shift + 1):
        for x in range(-max_shift, max_shift + 1):
            chosen = np.flatnonzero((dy == y) & (dx == x))
            shifted[chosen, max(y, 0):height + min(y, 0), max(x, 0):width + min(x, 0)] = \
                images[chosen, max(-y, 0):height + min(-y, 0), max(-x, 0):width + min(-x, 0)]
    return shifted


# ---------------------------------------------------------------- what the terminal shows

def print_epoch(record, epochs, history):
    """One aligned line per epoch, comparable by eye across runs; the record joins history."""
    history.append(record)
    val = "     -  " if record["val_accuracy"] is None else f"{100 * record['val_accuracy']:6.2f}%"
    print(f"epoch {record['epoch']:3d}/{epochs}  loss {record['loss']:.4f}  "
          f"train {100 * record['train_accuracy']:6.2f}%  val {val}  lr {record['lr']:.2e}  "
          f"{record['seconds']:5.1f} s  {record['samples_per_second']:7,.0f} img/s", flush=True)


def print_ending(history, stopped, args):
    """Why training ended early, and which epoch's network is kept, when that is news."""
    last = history[-1] if history else {}
    if stopped:
        log(f"stopped early during epoch {len(history) + 1}, after {len(history)} complete "
            f"epoch(s)" + ("" if args.keep_best else "; the network includes the steps of the "
                                                     "partial epoch"))
    if last.get("stopped") == "patience":
        print(f"stopped after epoch {last['epoch']}: no lower validation loss for "
              f"{args.patience} epochs (the lowest: epoch {last['best_epoch']})")
    if "kept_epoch" in last:
        kept = history[last["kept_epoch"] - 1]
        print(f"kept the network of epoch {last['kept_epoch']}, the lowest validation loss "
              f"({kept['val_loss']:.4f}; accuracy {100 * kept['val_accuracy']:.2f}%)")


def save_network(args, params, history, test_accuracy, should_stop):
    """--save: the network with its settings, results and history (as JSON text, for the
    curves of --load --report); for MNIST also the reader's judge (extras/judge.py),
    trained once per dataset and kept in its data folder."""
    judge = None
    if args.dataset == "mnist" and not should_stop():     # Ctrl-C in training: skip it
        from extras.judge import judge_for_saving
        judge = judge_for_saving(Path(args.data_dir) / args.dataset, lambda: load_dataset(
            args.dataset, args.data_dir, args.mirror, args.timeout, splits=("train",)),
            log, should_stop)
    val_accuracy = history[-1]["val_accuracy"] if history else None
    settings = {key: value for key, value in training_settings(args).items()
                if key != "activation" and value is not None}
    nn.save(args.save, params, args.activation, dataset=args.dataset, seed=args.seed,
            hidden=args.hidden, epochs_completed=len(history), val_size=args.val_size,
            data_sha256=[f"{name} {sha}" for name, sha in DATASETS[args.dataset]["sha256"].items()],
            test_accuracy=test_accuracy, augment=args.augment, stopped_early=should_stop(),
            val_accuracy=np.nan if val_accuracy is None else val_accuracy,
            history=json.dumps(history), **settings,
            **{f"judge_{key}": value for key, value in (judge or {}).items()})
    log(f"saved the network to {args.save}")


def as_flags(remedy, args):
    """A remedy of nn.diagnose() as this program's flags ({"lr": 0.0002} -> --lr 0.0002),
    or in words with nn.py's tools named as flags. init has no flag: relu networks get
    He's, the others Glorot's (see main); sizes are --hidden's, between input and output."""
    flags = []
    if remedy.get("setting") == "augment":                  # a function in nn.py's words
        return "--augment " + ("elastic" if args.augment != "none" else "shift")
    for key, value in remedy.get("set", {}).items():
        if key == "sizes":
            key, value = "hidden", ",".join(str(units) for units in value[1:-1])
        flag = "--" + key.replace("_", "-")
        if key != "init":
            flags.append(flag if value is True else f"{flag} {value:g}"
                         if isinstance(value, float) else f"{flag} {value}")
    return " ".join(flags) or in_flags(remedy["say"])


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
          f"({int(np.trace(counts)):,} of {len(labels):,} correct)\n\nconfusion matrix "
          f"(rows: true class, columns: predicted)\ntrue \\ pred " +
          "".join(f"{k:>6d}" for k in range(len(classes))) + "   recall  class")
    for k, row in enumerate(counts):
        print(f"{k:>11d} {''.join(f'{count:6d}' for count in row)}  {100 * recall[k]:6.2f}%  "
              f"{classes[k]}")
    print("  precision " + "".join(f"{100 * p:6.1f}" for p in precision) + "  (%)")
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:n_shown]
    if len(wrong):
        print(f"\nthe {'mistake' if len(wrong) == 1 else f'{len(wrong)} mistakes'} it was "
              f"surest of:")
    for start in range(0, len(wrong), 3):
        group = wrong[start:start + 3]
        for i in group:
            print(f"#{i}: true {classes[labels[i]]}, predicted {classes[predictions[i]]} "
                  f"with {100 * probs[i, predictions[i]]:.2f}% confidence")
        print("   ".join(f"{f'#{i}':<28s}" for i in group))
        print(side_by_side(images[group], "   "))


SHADES = " .:-=+*#%@"  # dark to bright, one character per pixel


def side_by_side(images, gap):
    """28 x 28 images (uint8, or floats in [0, 1]) drawn in characters side by side,
    brighter pixels denser, the blank rows above and below left out."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)
    levels = images.astype(np.int64) * len(SHADES) // 256                 # (K, 28, 28)
    rows = [gap.join("".join(SHADES[v] for v in image[y]) for image in levels)
            for y in range(images.shape[1])]
    inked = [y for y, row in enumerate(rows) if row.strip()] or [0, len(rows) - 1]
    return "\n".join(rows[inked[0]:inked[-1] + 1])


def record_run(args, argv, history, test_accuracy, started, failure=None):
    """The run's line in the run log (extras/runs.py), unless --runs none."""
    if args.runs:
        from extras import runs
        command = shlex.join(["python", "mnist.py", *(sys.argv[1:] if argv is None else argv)])
        runs.record(args.runs, command, vars(args), history, test_accuracy,
                    time.perf_counter() - started, failure)


# ---------------------------------------------------------------- without training

def without_training(args):
    """--compare; or with --load, --teach, --predict, --serve, --number-test or the test set."""
    if args.compare is not None:
        from extras import runs
        return runs.compare(args.runs, args.compare, args.report)
    params, info = nn.load(args.load)
    dataset, activation = info.get("dataset", "mnist"), info["activation"]
    if args.dataset not in (None, dataset) or dataset not in DATASETS:
        raise ValueError(f"{args.load} was trained on {dataset}, not {args.dataset}: leave out "
                        f"--dataset, or load a model trained on {args.dataset}")
    classes = DATASETS[dataset]["classes"]
    if info["sizes"][0] != 28 * 28 or info["sizes"][-1] != len(classes) or \
            (dataset != "mnist" and (args.serve or args.number_test)):
        raise ValueError(f"{args.load} reads {dataset} with sizes {info['sizes']}: not "
                        f"{args.dataset or 'mnist'} digits")
    from extras import judge, page, reader
    saved_judge = judge.saved_judge(info, args.load)     # the reader's judge, or None
    if args.teach:                                       # your hand: extras/teach.py
        from extras import teach
        if dataset != "mnist":
            raise ValueError(f"--teach teaches a hand's digits to a network trained on mnist; "
                             f"{args.load} was trained on {dataset}")
        check_writable("--save", args.save)
        data = load_dataset(dataset, args.data_dir, args.mirror, args.timeout, splits=("train",))
        return teach.teach_and_save(params, info, args.teach, data, args.save, args.seed,
                                    say=lambda remedy: remedy["say"])
    if args.predict:
        return reader.predict_files(args.predict, params, activation, classes, saved_judge,
                                    dataset != "mnist", args.show and side_by_side)
    if args.serve:
        teacher = dataset == "mnist" and make_teacher(args, params, info, saved_judge)
        return page.serve(params, activation, args.port, saved_judge, teacher or None)
    data = load_dataset(dataset, args.data_dir, args.mirror, args.timeout, splits=("test",))
    if args.number_test:
        return judge.number_test(params, activation, data["test_images"], data["test_labels"],
                                 args.number_test, args.seed, saved_judge)
    print(f"loaded {args.load}: sizes {info['sizes']}, activation {activation}")
    probs = nn.softmax(nn.outputs(params, as_inputs(data["test_images"]), activation))
    print_report(probs, data["test_labels"], data["test_images"], classes, args.show)
    if args.report:
        write_report(args, f"{args.load} on {dataset}", [("model", args.load)], info,
                     info["sizes"], 60_000 - info["val_size"], json.loads(info["history"]),
                     info["stopped_early"], params, probs, data)
    return 0


def make_teacher(args, params, info, judge=None):
    """The page's teach mode: a function that teaches params (and the reader's judge)
    pictures of the user's hand (extras/teach.py) with MNIST's training digits, loaded at
    the first teaching, and saves the taught network at --save, if given."""
    from extras import teach
    if args.save:
        check_writable("--save", args.save)
    data = {}

    def teacher(inputs, labels):
        if not data:                          # once: the page may teach again
            data.update(load_dataset("mnist", args.data_dir, args.mirror, args.timeout,
                                     splits=("train",)))
        taught = teach.teach_pictures(params, info, inputs, labels, data, args.seed, log, judge)
        if args.save:
            teach.save_taught(args.save, params, info, f"{len(labels)} pictures written on the "
                              f"page", judge)
        return dict(taught, saved=args.save)
    return teacher


def write_report(args, title, facts, settings, sizes, n_train, history, stopped, params,
                 probs, data, samples=None):
    """--report: the page of a run (extras/report.py), its remedies said as flags."""
    from extras import report
    labels, classes = data["test_labels"], DATASETS[settings["dataset"]]["classes"]
    facts += report.run_facts(settings, sizes, settings["activation"], n_train, len(labels),
                              history, stopped, nn.accuracy(labels, probs.argmax(axis=1)))
    report.write_report(args.report, title, facts, history, params, probs, labels,
                        data["test_images"], classes,
                        None if samples is None else samples.reshape(-1, 28, 28),
                        say=lambda remedy: as_flags(remedy, args))
    log(f"wrote the report to {args.report}")


# ================================================================ appendix: the command line
# What follows makes the story above work, and can wait.

def run(argv=None):
    """main(), with expected failures turned into one readable message and an exit code."""
    try:
        return main(argv)
    except BrokenPipeError:          # our reader went away (| head): end quietly, as Unix
        try:                         # tools do, with nothing left for Python to flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass                     # stdout is no real file (under a test runner, say)
        return 141                   # 128 + SIGPIPE, what a shell reports for it
    except (FloatingPointError, ValueError, OSError) as error:
        print(f"mnist.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmnist.py: interrupted", file=sys.stderr)
        return 130


# Each dataset's own defaults, chosen on its validation split: shifts help digits and cost
# clothing accuracy, which gains from less dropout and more epochs.
DEFAULTS = {"mnist": {"hidden": [576, 576], "epochs": 25, "dropout": 0.3, "augment": "shift",
                      "weight_decay": 0.1, "styles": 0.0},
            "fashion": {"hidden": [576, 576], "epochs": 40, "dropout": 0.2, "augment": "none",
                        "weight_decay": 0.0, "styles": 0.0}}
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.05}


def parse_args(argv=None):
    """The command line: every flag, its default said in --help; the dataset's defaults."""
    parser = argparse.ArgumentParser(description="Train a fully connected network (nn.py) on "
                                     "MNIST or Fashion-MNIST and report what it learned.",
                                     epilog="Offline? Put the four .gz files in "
                                     "--data-dir/DATASET/ or point --mirror at them.")
    add = parser.add_argument_group("data").add_argument
    add("--dataset", choices=sorted(DATASETS), help="(default: mnist; with --load, the model's)")
    add("--data-dir", default=str(Path(__file__).resolve().parent / "data"),
        help="cache folder, a subfolder per dataset (default: data/ next to this file)")
    add("--mirror", action="append", default=[], metavar="URL", type=mirror_url,
        help="a folder (path, file:/// or http(s):// URL) of the .gz files, tried first; "
             "repeatable (default: none)")
    add("--timeout", type=bounded(float, above=0, maximum=3600), default=30.0, metavar="SECONDS",
        help="a mirror sending under 10 KB/s for this long is left (default: %(default)s)")
    add("--val-size", type=bounded(int, minimum=0), default=5000,
        help="training images held out for validation, from the end (default: %(default)s)")
    add = parser.add_argument_group("network and training").add_argument
    add("--hidden", type=hidden_sizes, metavar="SIZES",
        help=f"hidden layer sizes, comma separated ({defaults('hidden')})")
    add("--activation", choices=list(nn.ACTIVATIONS), default="relu", help="(default: relu)")
    add("--optimizer", choices=list(nn.OPTIMIZERS), default="adam", help="(default: adam)")
    add("--epochs", type=bounded(int, minimum=1), help=f"passes over the data ({defaults('epochs')})")
    add("--batch-size", type=bounded(int, minimum=1), default=256, help="(default: 256)")
    add("--lr", type=bounded(float, above=0), help="starting learning rate (default: 0.002 "
        "for adam, 0.05 for sgd)")
    add("--schedule", choices=["constant", "linear", "cosine"], default="cosine",
        help="how the rate falls to --final-lr (default: cosine)")
    add("--final-lr", type=bounded(float, minimum=0), default=0.0, help="(default: 0)")
    add("--momentum", type=bounded(float, minimum=0, below=1), default=0.9,
        help="SGD's momentum, Adam's beta1 (default: 0.9)")
    add("--dropout", type=bounded(float, minimum=0, below=1),
        help=f"chance of dropping each hidden unit in training ({defaults('dropout')})")
    add("--weight-decay", type=bounded(float, minimum=0),
        help="decoupled weight decay (default: 0.1 with adam on mnist, else 0)")
    add("--keep-best", action="store_true", help="end with the network of the epoch of the "
        "lowest validation loss (default: off)")
    add("--patience", type=bounded(int, minimum=1), metavar="N", help="stop after N epochs "
        "without a lower validation loss (default: off)")
    add("--seed", type=bounded(int, minimum=0), default=0, help="(default: 0)")
    add = parser.add_argument_group("augmentation, of training images only").add_argument
    add("--augment", choices=["none", "shift", "affine", "elastic"],
        help=f"shift moves by whole pixels; affine also turns, scales, shears; elastic bends "
             f"the strokes, then shifts; fashion is mirrored too ({defaults('augment')})")
    for flag, kind, limit, default, words in (
            ("shift", int, 8, 2, "largest move in pixels"),
            ("rotate", float, 90, 12.0, "affine's largest turn in degrees"),
            ("scale", float, 0.5, 0.1, "affine's largest change of size"),
            ("shear", float, 1, 0.15, "affine's largest shear"),
            ("alpha", float, 100, 34.0, "elastic's strength in pixels"),
            ("sigma", float, 28, 6.0, "elastic's smoothness in pixels, above 0")):
        low = {"above": 0} if flag == "sigma" else {"minimum": 0}   # sigma divides
        add(f"--{flag}", type=bounded(kind, maximum=limit, **low), default=default,
            help=f"{words} (default: {default:g})")
    add("--styles", type=bounded(float, minimum=0, maximum=1), metavar="SHARE",
        help=f"share of the training digits rewritten once, before training, as other hands "
             f"write: 1s with a flag, 7s crossed, narrower, slanted, bolder or finer "
             f"({defaults('styles')})")
    add = parser.add_argument_group("the training doctor").add_argument
    add("--doctor", action="store_true", help="check the setup and exit; status 1 if a check "
        "failed (default: off)")
    add("--find-lr", action="store_true", help="run the learning-rate range test and exit "
        "(default: off)")
    add = parser.add_argument_group("saving, reporting, reading").add_argument
    add("--save", metavar="PATH", help="save the network to an .npz file; MNIST's also gets "
        "the reader's judge, trained once and kept in --data-dir; with --teach, or --serve's "
        "teach mode, the taught network (default: not saved)")
    add("--load", metavar="PATH", help="use a network saved with --save instead of training "
        "one (default: train)")
    add("--show", type=bounded(int, minimum=0), default=6, metavar="N", help="mistakes to "
        "draw; with --predict, 0 draws nothing (default: 6)")
    add("--report", metavar="PATH", help="write a page of what was learned (default: none)")
    add("--runs", metavar="PATH", help="the run log, a line of JSON per run; 'none' for none "
        "(default: runs.jsonl in --data-dir)")
    add("--compare", nargs="*", type=bounded(int, minimum=1), metavar="RUN", help="the logged "
        "runs (or those numbered) side by side; with --report, their curves (default: off)")
    add("--predict", nargs="+", metavar="IMAGE", help="with --load: read the number in each "
        "picture: PNG, PGM or PPM, and JPEG with Pillow installed (default: none)")
    add("--serve", action="store_true", help="with --load: a page on this computer to write "
        "on (default: off)")
    add("--number-test", type=bounded(int, minimum=1), metavar="N", help="with --load: read "
        "N numbers of each kind made of test digits (default: off)")
    add("--teach", metavar="FOLDER", help="with --load and --save: fine-tune the network on "
        "your hand, FOLDER holding a picture per digit, its name starting with the digit "
        "(3.png, 3b.jpg); three of each digit are plenty (default: off)")
    add("--watch", action="store_true", help="train with a live page of the run on "
        "127.0.0.1:--port, up until Ctrl-C (default: off)")
    add("--port", type=bounded(int, minimum=0, maximum=65535), default=8000,
        help="--serve's and --watch's port on 127.0.0.1 (default: 8000)")
    args = parser.parse_args(argv)
    args.lr = args.lr or DEFAULT_LR[args.optimizer]
    args.dataset = args.dataset or (None if args.load else "mnist")
    if args.weight_decay is None and args.optimizer != "adam":
        args.weight_decay = 0.0      # the defaults' decay is sized to Adam's rate: lr * decay
    for key, value in DEFAULTS[args.dataset or "mnist"].items():
        setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    if args.runs is None:
        args.runs = str(Path(args.data_dir) / "runs.jsonl")
    elif args.runs == "none":
        args.runs = None
    if args.compare is not None and not args.runs:
        parser.error("--compare reads the run log: give it with --runs PATH")
    if (args.keep_best or args.patience) and args.val_size == 0:
        parser.error("--keep-best and --patience choose epochs by the validation loss: "
                     "they need --val-size above 0")
    if args.watch and (args.load or args.compare is not None or args.doctor or args.find_lr):
        parser.error("--watch follows a training run: leave out --load, --compare, --doctor "
                     "and --find-lr")
    if args.styles and args.dataset == "fashion":
        parser.error("--styles rewrites digits as other hands write them: mnist only")
    if args.teach and not (args.load and args.save):
        parser.error("--teach changes a saved network and saves the result: give --load "
                     "MODEL and --save NEW_MODEL")
    for flag in ("--predict", "--serve", "--number-test"):
        if getattr(args, flag[2:].replace("-", "_")) and not args.load:
            parser.error(f"{flag} needs a saved network to ask: train and save one with "
                         f"'python mnist.py --save model.npz', then add --load model.npz")
    return args


def defaults(key):
    """--help's words for a setting whose default depends on the dataset."""
    mnist, fashion = (",".join(map(str, value)) if isinstance(value, list) else str(value)
                      for value in (DEFAULTS["mnist"][key], DEFAULTS["fashion"][key]))
    return f"default: {mnist}" + ("" if mnist == fashion else f"; {fashion} for fashion")


def bounded(kind, minimum=None, maximum=None, above=None, below=None):
    """An argparse type: text -> kind (int or float), finite, within the given bounds."""
    limits = " and ".join(f"{sign} {limit}" for sign, limit in (
        (">", above), (">=", minimum), ("<=", maximum), ("<", below)) if limit is not None)

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {kind.__name__}, got {text!r}") from None
        if not math.isfinite(value) or (above is not None and value <= above) or \
                (minimum is not None and value < minimum) or \
                (maximum is not None and value > maximum) or (below is not None and value >= below):
            raise argparse.ArgumentTypeError(f"must be {limits or 'finite'}, got {text}")
        return value
    return convert


def hidden_sizes(text):
    """--hidden: sizes separated by commas, each at least 1."""
    sizes = [int(size) if size.strip().isdigit() else 0 for size in text.split(",")]
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be sizes of 1 or more separated by commas, "
                                         f"like 512,256; got {text!r}")
    return sizes


def mirror_url(text):
    """--mirror: a URL or a folder's path, as extras/fetch.py's mirror_url checks it."""
    from extras import fetch
    try:
        return fetch.mirror_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def install_interrupt_handler():
    """First Ctrl-C: finish the current batch, then stop and report. Second: quit now.
    Returns should_stop() for nn.train: whether a stop was asked for."""
    asked = []

    def on_interrupt(signal_number, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        log("\nstopping after this batch (press Ctrl-C again to quit at once)")
    signal.signal(signal.SIGINT, on_interrupt)
    return lambda: bool(asked)


def check_writable(flag, path):
    """Raise unless a file can be made at path: found before training, a typo costs no run."""
    path = Path(path)
    if path.is_dir() or not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise ValueError(f"{flag} {path}: " + ("that is a folder; name a file in it" if
                         path.is_dir() else f"cannot write in the folder {path.parent}, or "
                         f"it does not exist"))


if __name__ == "__main__":
    sys.exit(run())
