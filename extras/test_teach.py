"""Tests of teach.py: a hand's pictures read, taught to a network, saved with it."""
import io

import numpy as np
import pytest

import nn
from extras import teach
from extras.conftest import glyph
from extras.images import write_png
from extras.judge import write_number


def picture(digit, rng, slant=None):
    """A glyph as a user's picture of one digit: dark on white, apart, 60 pixels tall;
    slant: a hand of its own, every stroke leaning this far."""
    image = glyph(digit, rng)
    if slant is not None:                   # shear the glyph: a hand MNIST's glyphs lack
        rows = np.arange(28)[:, None] - 14
        columns = np.clip(np.round(np.arange(28) + slant * rows).astype(int), 0, 27)
        image = np.take_along_axis(image, columns, axis=1)
    return write_number(image[None], "apart", rng, height=60)


def test_the_pictures_to_teach_are_named_by_their_digit_and_anything_else_is_refused(tmp_path):
    """read_examples takes each picture's digit from its name's first character, passes
    over hidden files, and refuses a folder holding anything else, naming each file; an
    empty folder, or none, says what to put in it."""
    rng = np.random.default_rng(0)
    for name, digit in (("7.png", 7), ("1b.png", 1), ("0-x.png", 0)):
        (tmp_path / name).write_bytes(write_png(picture(digit, rng)))
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    inputs, labels, names = teach.read_examples(str(tmp_path))
    assert inputs.shape == (3, 28, 28) and labels.tolist() == [0, 1, 7]
    assert names == ["0-x.png", "1b.png", "7.png"]
    (tmp_path / "seven.png").write_bytes(write_png(picture(7, rng)))
    (tmp_path / "3.txt").write_text("3")
    (tmp_path / "4.png").write_bytes(write_png(np.full((20, 20), 255, np.uint8)))
    with pytest.raises(ValueError) as error:
        teach.read_examples(str(tmp_path))
    message = str(error.value)
    assert "named by the digit first" in message and "seven.png" in message
    assert "3.txt" in message and "4.png: no ink found" in message and "7.png" not in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no pictures in it"):
        teach.read_examples(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="not a folder"):
        teach.read_examples(str(tmp_path / "missing"))


def test_teaching_a_slanted_hand_reads_it_and_keeps_what_the_network_knew(glyph_network):
    """A network that knows upright 0s, 1s and 7s misreads a hand that leans far over;
    taught three of each digit of that hand, it reads other pictures of it, and still
    reads the upright glyphs it knew."""
    rng = np.random.default_rng(1)
    params = nn.copy_params(glyph_network)
    hand = lambda digit: teach.reader.digit_input(picture(digit, rng, slant=0.9))   # noqa
    digits = np.array([0, 1, 7] * 12)
    unseen = np.array([hand(d) for d in digits]).reshape(len(digits), -1)
    before = nn.accuracy(digits, nn.predict(params, unseen, "relu"))
    taught = np.array([0, 1, 7] * 3)
    known = np.array([0, 1, 7] * 200)                   # what it learned from, as MNIST
    upright = np.array([teach.reader.centre_digit(glyph(d, rng) / 255) for d in known])
    upright = upright.reshape(len(known), -1)
    teach.teach(params, "relu", np.array([hand(d) for d in taught]), taught,
                np.tile(upright, (10, 1)), np.tile(known, 10), None, None, rng,
                log=lambda line: None)
    after = nn.accuracy(digits, nn.predict(params, unseen, "relu"))
    assert before < 0.8 and after >= 0.95
    assert nn.accuracy(known, nn.predict(params, upright, "relu")) >= 0.98


def test_a_fine_tune_is_not_blamed_for_starting_trained(glyph_network, tmp_path):
    """The doctor's rule that a network's first loss be near chance's is for networks that
    start from nothing: teach_and_save leaves it out, and prints the rest."""
    rng = np.random.default_rng(2)
    known = np.array([0, 1, 7] * 100)
    data = {"train_images": np.array([glyph(d, rng) for d in known]), "train_labels": known}
    folder = tmp_path / "hand"
    folder.mkdir()
    for k, digit in enumerate([0, 1, 7] * 2):
        (folder / f"{digit}-{k}.png").write_bytes(write_png(picture(digit, rng, slant=0.9)))
    out = io.StringIO()
    info = {"activation": "relu", "sizes": [784, 64, 10], "val_size": 60}
    assert teach.teach_and_save(nn.copy_params(glyph_network), info, str(folder), data,
                                str(tmp_path / "mine.npz"), 0, lambda r: r["say"], out) == 0
    assert "read right: " in out.getvalue() and "loss at start" not in out.getvalue()
    history = nn.train(nn.copy_params(glyph_network), data["train_images"].reshape(300, -1) / 255,
                       known, epochs=1)
    assert any(found["check"] == "loss at start" for found in nn.diagnose(history))
    assert nn.load(str(tmp_path / "mine.npz"))[1]["taught"] == "6 pictures from hand"


def test_the_doctor_watches_the_fine_tune(glyph_network, monkeypatch):
    """A fine-tune at a hundred times teaching's rate is told so by the doctor's rules,
    first of all; at teaching's own rate the rate is not blamed."""
    rng = np.random.default_rng(3)
    known = np.array([0, 1, 7] * 100)
    data = {"train_images": np.array([glyph(d, rng) for d in known]), "train_labels": known}
    inputs = np.array([teach.reader.digit_input(picture(d, rng, slant=0.9)) for d in [0, 1, 7]])
    info = {"activation": "relu", "val_size": 60}
    taught = teach.teach_pictures(nn.copy_params(glyph_network), info, inputs,
                                  np.array([0, 1, 7]), data, 0, log=lambda line: None)
    assert "learning rate too high" not in [found["check"] for found in taught["findings"]]
    monkeypatch.setattr(teach, "TEACH_LR", 100 * teach.TEACH_LR)
    taught = teach.teach_pictures(nn.copy_params(glyph_network), info, inputs,
                                  np.array([0, 1, 7]), data, 0, log=lambda line: None)
    assert [found["check"] for found in taught["findings"]][:1] == ["learning rate too high"]
