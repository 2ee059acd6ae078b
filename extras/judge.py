"""The reader's judge, and the numbers written to teach it and to test the reader.

write_number() writes MNIST digits into a picture as a user would (apart on white paper,
photographed on grey paper under uneven light, or touching); number_test() reads such
numbers made from MNIST's test digits (--number-test); train_judge() teaches the reader's
judge on numbers made from the training digits, once per dataset (judge_for_saving keeps it).
"""
import difflib
import os
import textwrap
import time

import numpy as np

import nn
import extras
from extras import reader
from extras.images import ImageError, ink_box, resize

JUDGE_NUMBERS = 2700   # numbers written with training digits that the judge learns from
JUDGE_HIDDEN = 64      # the judge: JUDGE_INPUTS-64-2, 5 epochs
JUDGE_EPOCHS = 5
JUDGE_INPUTS = 28 * 28 + 5    # the pixels, and reader.shape_features
JUDGE_DIGITS = 55_000  # MNIST's training digits less the default validation split
JUDGE_SEED = 0         # the judge's own: it is trained once per dataset, whatever the run's
JUDGE_FILE = "reader-judge.npz"       # in the dataset's data folder
JUDGE_RECIPE = f"{JUDGE_NUMBERS} numbers, {JUDGE_INPUTS}-{JUDGE_HIDDEN}-2, " \
    f"{JUDGE_EPOCHS} epochs, v3"
NUMBER_KINDS = {"apart": "apart, on white paper", "photo": "photographed, grey paper",
                "touching": "close or touching"}


def number_test(params, activation, images, labels, per_kind, seed, judge=None):
    """--number-test: how well the network reads whole numbers. per_kind numbers of each
    kind (see write_number), each of 2 to 8 digits drawn from images (uint8 (N, 28, 28),
    MNIST's test digits: writers the network never saw) with their labels (N,), read by
    reader.read_number. Prints how many were read exactly, the share of digits read right
    and in order, the time a number took, how many the network itself reads right when
    given MNIST's own images of their digits (what a perfect cutter would reach), and the
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
                said = reader.read_number(picture, params, activation, judge=judge)["text"]
            except ImageError:
                said = "nothing"
            seconds.append(time.perf_counter() - started)
            read += said == truth
            X = images[chosen].reshape(len(chosen), -1) / 255
            alone += (nn.predict(params, X, activation) == labels[chosen]).all()
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
        top, left, bottom, right = ink_box(digit, 0.1)
        digit = digit[top:bottom, left:right]
        size = height * rng.uniform(0.9, 1.1)
        placed.append(np.clip(resize(digit, int(size), max(2, int(size * digit.shape[1] /
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


def judge_for_saving(folder, training_digits, log=print, should_stop=lambda: False):
    """--save's judge. It depends on the dataset's training digits alone, not on the
    network saved, so it is trained once, with its own seed (JUDGE_SEED), and kept in
    folder (the dataset's data folder) as JUDGE_FILE; later saves read it back. A kept
    file of another recipe (JUDGE_RECIPE), or one that cannot be read, is trained again,
    saying why. training_digits() gives the training split ({"train_images": uint8 (N,
    28, 28), ...}), asked only when the judge is trained: it learns from the first
    JUDGE_DIGITS of them. Returns the judge's params; None if skipped (Ctrl-C)."""
    path = os.path.join(folder, JUDGE_FILE)
    if os.path.exists(path):
        try:
            judge, info = nn.load(path)
            if info.get("recipe") == JUDGE_RECIPE and info["sizes"][::2] == [JUDGE_INPUTS, 2]:
                log(f"the reader's judge, which tells one whole digit from a piece or a pair: "
                    f"{path}, trained once for this dataset")
                return judge
            log(f"{path} holds a judge of another recipe ({info.get('recipe')}); training "
                f"it again")
        except (ValueError, OSError) as error:
            log(f"warning: {error}; training the reader's judge again")
    log(f"training the reader's judge, which tells one whole digit from a piece or a pair, "
        f"once for this dataset (kept in {path}): {JUDGE_NUMBERS:,} numbers cut up, then "
        f"{JUDGE_EPOCHS} epochs (Ctrl-C skips it)")
    images = training_digits()["train_images"][:JUDGE_DIGITS].astype(np.float32) / 255
    judge = train_judge(images, np.random.default_rng(JUDGE_SEED), JUDGE_NUMBERS, log,
                        should_stop)
    if judge is None:
        log("skipped the judge: the network is saved without it, and reads numbers less well")
        return None
    try:
        nn.save(path, judge, "relu", recipe=JUDGE_RECIPE)
    except OSError as error:
        log(f"warning: could not keep the judge for next time ({error})")
    return judge


def train_judge(images, rng, numbers, log=print, should_stop=lambda: False):
    """The reader's judge: a small second network (789-64-2) that says whether a candidate
    (see reader.candidates) is one whole digit, from its 784 pixels and 5 numbers on its
    shape and its cuts (reader.shape_features): LeCun et al.'s "not one digit" class
    (1998, section VI), learned apart from the reading network. That network cannot say
    so: shown two digits squeezed into one, or a stroke cut off a digit, it names a digit
    all the same, often with confidence.

    The judge learns from `numbers` numbers written with images (float (N, 28, 28) in [0,
    1], light on black: training digits), apart or touching, cut up by the reader's own
    steps, digits 40 to 59 pixels tall (enough: candidates are scaled to 20 pixels). A
    candidate that covers 85% of one digit's columns and at most a quarter of any other's
    is whole (1); one that covers half of two digits or more, or under 70% of any one, is
    not (0); the rest are too close to call and left out. Progress goes to log. Returns
    the judge's params; None when should_stop() says so (Ctrl-C), or when no number could
    be cut up (images that are no digits).
    """
    examples = judge_examples(images, rng, numbers, log, should_stop)
    if examples is None:
        return None
    X, whole = examples
    log(f"  training the judge on {len(X):,} cut-out candidates ({100 * whole.mean():.0f}% of "
        f"them whole digits), {JUDGE_EPOCHS} epochs")
    judge = nn.init_params([X.shape[1], JUDGE_HIDDEN, 2], rng=rng)
    history = nn.train(judge, X, whole, epochs=JUDGE_EPOCHS, batch_size=128, lr=1e-3,
                       optimizer="adam", dropout=0.2, rng=rng, should_stop=should_stop,
                       on_epoch=lambda record: log(f"  judge epoch {record['epoch']} of "
                                                   f"{JUDGE_EPOCHS}: {record['seconds']:.0f} s"))
    return judge if len(history) == JUDGE_EPOCHS else None


def judge_examples(images, rng, numbers, log=print, should_stop=lambda: False):
    """What the judge learns from: (X (N, JUDGE_INPUTS) float32, whole (N,) 0 or 1), the
    candidates cut out of `numbers` numbers written with images as train_judge says, each
    its pixels and shape features; None when should_stop() says so, or when no number
    could be cut up."""
    started, inputs, shapes, whole = time.perf_counter(), [], [], []
    for n in range(numbers):
        if should_stop():
            return None
        if n and n % (numbers // 4 or 1) == 0:
            seconds = time.perf_counter() - started
            log(f"  cut up {n} of {numbers} numbers in {seconds:.0f} s; about "
                f"{seconds * (numbers - n) / n:.0f} s more, then its training")
        chosen = rng.choice(len(images), min(int(rng.integers(2, 9)), len(images)), replace=False)
        kind = "apart" if n % 3 == 2 else "touching"
        canvas, spans = place_digits(images[chosen] * 255, kind, rng, int(rng.integers(40, 60)))
        try:
            ink, labels, groups, expected = reader.find_groups(
                reader.grey_levels(on_paper(canvas, kind, rng)))
        except ImageError:                   # no ink, or no line of digits: nothing to cut
            continue
        for members, _ in groups:
            _, left, _, _, parts, candidate_inputs, features = reader.candidates(
                np.isin(labels, members), ink, expected)
            first, last = left + np.array(reader.inked_span(parts.any(axis=1)))  # (K,) each
            covered = np.clip(np.minimum(last[:, None], spans[:, 1]) -
                              np.maximum(first[:, None], spans[:, 0]), 0, None) / \
                (spans[:, 1] - spans[:, 0])                                  # (K, digits)
            most, second = np.sort(np.pad(covered, ((0, 0), (0, 1))), axis=1)[:, [-1, -2]].T
            label = np.where((most >= 0.85) & (second <= 0.25), 1,
                             np.where((second >= 0.5) | (most < 0.7), 0, -1))
            kept = candidate_inputs[label >= 0]          # as bytes: a quarter of the memory
            inputs.append(np.round(255 * kept).astype(np.uint8))
            shapes.append(features[label >= 0])
            whole.append(label[label >= 0])
    if not inputs:
        return None
    X, whole = np.concatenate(inputs).reshape(-1, 28 * 28), np.concatenate(whole)
    del inputs
    pixels, X = X, np.empty((len(X), JUDGE_INPUTS), dtype=np.float32)    # the pixels and
    X[:, :28 * 28] = pixels                                             # the shape features
    X[:, :28 * 28] /= 255
    X[:, 28 * 28:] = np.concatenate(shapes)
    return X, whole


def saved_judge(info, path):
    """The reader's judge saved with a network (info from nn.load, its arrays judge_W1,
    judge_b1, ...), checked; None for a network saved without one."""
    if "judge_W1" not in info:
        return None
    try:
        judge = {key: np.array(info[f"judge_{key}"], dtype=np.float32)
                 for key in ("W1", "b1", "W2", "b2")}
    except (KeyError, ValueError, TypeError):                # missing, or not numbers
        judge = {}
    hidden = judge["W1"].shape[-1] if judge and judge["W1"].ndim == 2 else 0
    if hidden and judge["W1"].shape[0] == 28 * 28:      # pixels alone: the judge of old
        extras.log(f"warning: {path} carries the reader's judge of an older version, which "
                   f"saw pixels alone; reading without it, less well: save the network again")
        return None
    shapes = {"W1": (JUDGE_INPUTS, hidden), "b1": (hidden,), "W2": (hidden, 2), "b2": (2,)}
    if hidden == 0 or any(
            judge[key].shape != shape or not np.isfinite(judge[key]).all()
            for key, shape in shapes.items()):
        raise ValueError(f"{path} is damaged: its reader's judge (judge_W1 ...) is not a "
                         f"{JUDGE_INPUTS}-{hidden}-2 network of finite numbers; save the "
                         f"network again")
    return judge
