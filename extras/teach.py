"""Teaching a saved network your hand (--teach FOLDER): a few pictures of each digit, each
prepared as the reader prepares a digit of a number, and a short fine-tune on them mixed
with MNIST's training digits, so that the network learns the hand and forgets nothing.

Fine-tuning is training that starts from trained weights, with a small learning rate and
few steps; mixing the old data in (rehearsal) keeps the network from forgetting what it
knew (catastrophic forgetting: McCloskey & Cohen 1989; Robins 1995). Each batch varies the
pictures (turned, scaled, sheared, moved), so three of a digit stand for many.
"""
import math
import os
import time

import numpy as np

import nn
from extras import distort, reader
from extras.doctor import finding_text
from extras.judge import judge_examples, saved_judge
from extras.images import ImageError

TEACH_MNIST = 6000     # MNIST training digits mixed in, drawn anew for each teaching
TEACH_SHARE = 0.25     # of the digits trained on: copies of the pictures taught
TEACH_EPOCHS = 4       # passes over the mix of 8,000: 32,000 digits, 0.6 of a default epoch
TEACH_LR = 3e-4        # Adam's; a seventh of the rate the network was trained at
TEACH_NUMBERS = 150    # numbers written with the pictures (and as many MNIST digits) that
                       # the reader's judge is taught this hand's pairs and pieces from
PICTURES = (".png", ".pgm", ".ppm", ".jpg", ".jpeg")


def read_examples(folder):
    """The pictures in folder to teach: (inputs float32 (K, 28, 28), labels (K,), names),
    each file a picture of one digit, its name starting with the digit (3.png, 3b.jpg,
    7-x.png); hidden files (.DS_Store) are passed over. Raises ValueError naming every
    file that is not such a picture, or when there are none."""
    if not os.path.isdir(folder):
        raise ValueError(f"--teach {folder}: not a folder; expected a folder of pictures, one "
                         f"digit each, named by the digit first (3.png, 3b.jpg, 7-x.png)")
    names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
    inputs, labels, wrong = [], [], []
    for name in names:
        if not name[0].isdigit() or not name.lower().endswith(PICTURES):
            wrong.append(f"{name}: not a picture named by its digit")
            continue
        try:
            inputs.append(reader.digit_input(reader.read_photo(os.path.join(folder, name)), name))
            labels.append(int(name[0]))
        except (ImageError, ValueError) as error:
            wrong.append(str(error))
    if wrong:
        raise ValueError(f"--teach {folder}: expected pictures (PNG, PGM, PPM; JPEG with "
                         f"Pillow) of one digit each, named by the digit first (3.png, 3b.jpg, "
                         f"7-x.png); these are not:\n  " + "\n  ".join(wrong))
    if not inputs:
        raise ValueError(f"--teach {folder}: no pictures in it; write each digit a few times "
                         f"(three is plenty), a picture each, named 0a.png, 0b.png, ...")
    return np.array(inputs), np.array(labels), names


def teach(params, activation, inputs, labels, X_train, train_labels, X_val, val_labels, rng,
          dropout=0.0, weight_decay=0.0, log=print):
    """Fine-tune params in place on the pictures inputs (K, 28, 28) with their labels (K,),
    mixed with TEACH_MNIST rows of X_train (N, 784) and their train_labels: the pictures
    are copied until they are TEACH_SHARE of the mix. TEACH_EPOCHS epochs of Adam at
    TEACH_LR, each batch turned, scaled, sheared and moved (distort.affine_images).
    X_val, val_labels (MNIST's validation digits) are measured each epoch, so the
    doctor sees forgetting. Returns nn.train's history."""
    chosen = rng.choice(len(X_train), min(TEACH_MNIST, len(X_train)), replace=False)
    copies = math.ceil(TEACH_SHARE / (1 - TEACH_SHARE) * len(chosen) / len(inputs))
    X = np.concatenate([X_train[chosen], np.tile(inputs.reshape(len(inputs), -1), (copies, 1))])
    targets = np.concatenate([train_labels[chosen], np.tile(labels, copies)])

    def augment(X_batch, rng):
        images = distort.affine_images(X_batch.reshape(-1, 28, 28), rng, 2, 8, 0.1, 0.15)
        return images.reshape(X_batch.shape)
    return nn.train(params, X.astype(params["W1"].dtype), targets, epochs=TEACH_EPOCHS,
                    batch_size=128, lr=TEACH_LR, optimizer="adam", schedule="cosine",
                    activation=activation, dropout=dropout, weight_decay=weight_decay,
                    X_val=X_val, targets_val=val_labels, rng=rng,
                    on_epoch=lambda record: log(
                        f"  epoch {record['epoch']} of {TEACH_EPOCHS}: loss {record['loss']:.4f}"
                        + ("" if X_val is None else
                           f", MNIST validation {100 * record['val_accuracy']:.2f}%")))


def teach_judge(judge, inputs, X_train, rng, log=print):
    """Fine-tune the reader's judge (judge.py) in place on the candidates cut out of
    TEACH_NUMBERS numbers written with the pictures inputs (K, 28, 28) and as many of
    X_train's digits (N, 784), apart or touching, so that it knows this hand's pairs and
    pieces (a narrow hand's two digits are as wide as one of MNIST's)."""
    mnist = X_train[rng.choice(len(X_train), min(len(inputs), len(X_train)), replace=False)]
    digits = np.concatenate([inputs, mnist.reshape(-1, 28, 28)])
    examples = judge_examples(digits, rng, TEACH_NUMBERS, log=lambda line: None)
    if examples is None:
        return
    X, whole = examples
    log(f"  the reader's judge: {len(X):,} candidates cut out of {TEACH_NUMBERS} numbers "
        f"written with your pictures")
    nn.train(judge, X, whole, epochs=TEACH_EPOCHS, batch_size=128, lr=TEACH_LR,
             optimizer="adam", dropout=0.2, rng=rng)


def said(probs):
    """A reading as '7 (98%)', with a ? when doubtful as the reader marks it."""
    doubt = "?" if probs.max() < reader.DOUBTFUL else ""
    return f"{probs.argmax()}{doubt} ({100 * probs.max():.0f}%)"


def teach_and_save(params, info, folder, data, save_path, seed, say, out=None):
    """--load MODEL --teach FOLDER --save PATH: read the pictures, teach them (see
    teach_pictures), say how the network read them before and after and what the doctor
    sees, and save the taught network (with everything the loaded one carried: its
    settings, history and the reader's judge) to save_path. say() words one of nn.py's
    remedies as flags; out: where to print (None: standard output). Returns the exit
    status."""
    started = time.perf_counter()
    inputs, labels, names = read_examples(folder)
    missing = sorted(set(range(10)) - set(labels.tolist()))
    print(f"teaching {len(names)} pictures from {folder}" + (
        f" (none of {', '.join(map(str, missing))}: those are read as before)" if missing else ""),
        file=out)
    judge = saved_judge(info, "the loaded network")
    taught = teach_pictures(params, info, inputs, labels, data, seed,
                            log=lambda line: print(line, file=out), judge=judge)
    before, after = taught["before"], taught["after"]
    print("how each picture is read, before -> after teaching:", file=out)
    for digit in sorted(set(labels.tolist())):
        mine = np.flatnonzero(labels == digit)
        print(f"  {digit}: " + "   ".join(f"{said(before[k])} -> {said(after[k])}" for k in mine),
              file=out)
    right = lambda probs: int((probs.argmax(axis=1) == labels).sum())     # noqa
    print(f"read right: {right(before)} of {len(labels)} before, {right(after)} of {len(labels)} "
          f"after", file=out)
    if taught["val_before"] is not None:
        print(f"MNIST validation: {100 * taught['val_before']:.2f}% before, "
              f"{100 * taught['val_after']:.2f}% after", file=out)
    for found in taught["findings"]:
        print(finding_text(found, say, "- the doctor: "), file=out)
    save_taught(save_path, params, info, f"{len(names)} pictures from "
                f"{os.path.basename(os.path.normpath(folder))}", judge)
    print(f"saved the taught network to {save_path} ({time.perf_counter() - started:.1f} s); "
          f"read with it: --load {save_path} --predict ...", file=out)
    return 0


def teach_pictures(params, info, inputs, labels, data, seed, log=print, judge=None):
    """Teach params (the network loaded with info) the pictures inputs (K, 28, 28) with
    their labels (K,), in place; data: MNIST's training split ("train_images",
    "train_labels"), whose last info["val_size"] digits are the validation set, as in
    training. Returns {"before", "after": the network's probabilities for the pictures
    (K, 10); "val_before", "val_after": its MNIST validation accuracy (None without a
    validation set); "findings": what the doctor sees in the fine-tune}. The reader's
    judge, if given, is taught this hand's numbers too (teach_judge), in place."""
    activation = info["activation"]
    val_size = int(info.get("val_size", 5000))
    images, all_labels = data["train_images"], data["train_labels"].astype(np.int64)
    n_train = len(images) - val_size
    as_rows = lambda part: part.reshape(len(part), -1).astype(np.float32) / 255   # noqa
    X_val, val_labels = (as_rows(images[n_train:]), all_labels[n_train:]) if val_size else \
        (None, None)
    rows = inputs.reshape(len(inputs), -1)
    read = lambda: nn.softmax(nn.outputs(params, rows, activation))          # noqa
    before = read()
    val_before = None if X_val is None else \
        nn.accuracy(val_labels, nn.predict(params, X_val, activation))
    rng, X_train = np.random.default_rng(seed), as_rows(images[:n_train])
    history = teach(params, activation, inputs, labels, X_train, all_labels[:n_train], X_val,
                    val_labels, rng, dropout=float(info.get("dropout", 0.0)),
                    weight_decay=float(info.get("weight_decay", 0.0)), log=log)
    if judge is not None:
        teach_judge(judge, inputs, X_train, rng, log)
    return {"before": before, "after": read(), "val_before": val_before,
            "val_after": None if X_val is None else history[-1]["val_accuracy"],
            "findings": [found for found in nn.diagnose(history)       # a fine-tune starts
                         if found["check"] != "loss at start"]}        # trained, on purpose


def save_taught(path, params, info, taught, judge=None):
    """Save a taught network with all that the loaded one carried (info) and its taught
    judge, saying what it was taught; its test accuracy is the loaded network's no
    longer: measure it again."""
    kept = {key: value for key, value in info.items() if key not in ("sizes", "activation")}
    kept.update({f"judge_{key}": value for key, value in (judge or {}).items()})
    nn.save(path, params, info["activation"], **dict(kept, taught=taught, test_accuracy=np.nan))
