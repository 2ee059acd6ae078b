"""Tests of judge.py: numbers written for tests, the reader's judge, --number-test."""
import re

import numpy as np
import pytest

from extras import judge, reader
from extras.conftest import ALWAYS_0, glyph, rings_in_a_row


def test_the_judge_tells_how_many_touching_rings_a_network_that_cannot_sees(glyph_judge):
    """A network that reads anything as a 0 cannot count touching rings, and two or three
    of them are no wider than one 0 may be; the judge, trained on numbers of glyphs,
    knows a pair or a piece from a whole digit, so the reader counts them right."""
    for count in (1, 2, 3):
        assert reader.read_number(rings_in_a_row(count), ALWAYS_0, "relu",
                                  judge=glyph_judge)["text"] == "0" * count


def test_a_judge_with_nothing_to_learn_from_is_none(monkeypatch):
    """Digits in which the reader finds no line of digits give no judge, not a crash."""
    def nothing(grey, name="image"):
        raise reader.ImageError("no ink found")
    monkeypatch.setattr(reader, "find_groups", nothing)
    images = np.array([glyph(0, np.random.default_rng(k)) for k in range(10)]) / 255
    assert judge.train_judge(images, np.random.default_rng(0), 3, log=lambda m: None) is None


def test_the_judge_says_how_far_it_is_and_stops_when_asked():
    """Training the judge says how far it is, a line a quarter, with the time still to go;
    asked to stop (Ctrl-C), it stops at once and gives no judge."""
    images = np.array([glyph(d, np.random.default_rng(d)) for d in (0, 1, 7) * 4]) / 255
    said = []
    assert judge.train_judge(images, np.random.default_rng(0), 8, log=said.append) is not None
    assert [line.split(" numbers")[0] for line in said[:3]] == \
        ["  cut up 2 of 8", "  cut up 4 of 8", "  cut up 6 of 8"]
    assert all("s more" in line for line in said[:3]) and "judge epoch 5 of 5" in said[-1]
    asked = []
    assert judge.train_judge(images, np.random.default_rng(0), 8, log=asked.append,
                             should_stop=lambda: len(asked) >= 1) is None
    assert len(asked) == 1                                        # stopped at the next number


def test_number_test_counts_the_numbers_read_exactly_and_the_digits(glyph_network, capsys):
    """--number-test's counts, against two networks: the glyph network reads nearly every
    number of 0s, 1s and 7s, and every one given the glyphs themselves; one that reads
    everything as a 0 reads no number of 1s and 7s, and none of their digits."""
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 7], 60)
    images = np.array([glyph(d, rng) for d in labels])
    assert judge.number_test(glyph_network, "relu", images, labels, 5, 0) == 0
    out = capsys.readouterr().out
    counts = [int(n) for n in re.findall(r"(\d+) of +\d+ +read exactly", out)]
    assert len(counts) == 4 and counts[3] == sum(counts[:3]) >= 12
    assert "MNIST's own images of the digits, reads 15 of 15 numbers right" in out
    ones_and_sevens = labels != 0
    judge.number_test(ALWAYS_0, "relu", images[ones_and_sevens], labels[ones_and_sevens], 5, 0)
    out = capsys.readouterr().out
    assert re.findall(r"(\d+) of +\d+ +read exactly", out) == ["0"] * 4
    assert "digits read right and in order: 0.0%" in out and "misread (written as read): " in out
    assert "MNIST's own images of the digits, reads 0 of 15 numbers right (0.0%)" in out


def test_a_saved_judge_is_checked_when_loaded(glyph_judge, capsys):
    """A judge saved with a network comes back as it was; a damaged one (a number, text, a
    missing or misshapen array where its weights should be) is refused, naming the file."""
    info = {f"judge_{key}": value.tolist() for key, value in glyph_judge.items()}
    loaded = judge.saved_judge(info, "x.npz")
    assert all(np.allclose(loaded[key], glyph_judge[key]) for key in glyph_judge)
    assert judge.saved_judge({}, "x.npz") is None
    old = dict(info, judge_W1=np.zeros((784, 64), np.float32))      # it saw pixels alone
    assert judge.saved_judge(old, "x.npz") is None
    assert "x.npz carries the reader's judge of an older version" in capsys.readouterr().err
    for damage in ({"W1": 0.5}, {"b2": None}, {"W1": "weights"}, {"W2": info["judge_W1"]}):
        damaged = dict(info, **{f"judge_{key}": value for key, value in damage.items()})
        damaged = {key: value for key, value in damaged.items() if value is not None}
        with pytest.raises(ValueError, match="x.npz is damaged: its reader's judge"):
            judge.saved_judge(damaged, "x.npz")


def test_the_judge_is_trained_once_per_dataset_and_kept(tmp_path, monkeypatch):
    """--save's judge depends on the training digits alone: the first save reads them and
    trains it, and keeps it in the data folder; the next reads it back without the digits or training; a kept judge of another
    recipe, or a damaged file, is trained again, saying so."""
    monkeypatch.setattr(judge, "JUDGE_NUMBERS", 8)
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 7] * 4)
    digits = {"train_images": np.array([glyph(d, rng) for d in labels]), "train_labels": labels}
    said, asked = [], []
    first = judge.judge_for_saving(tmp_path, lambda: asked.append(1) or digits, said.append)
    kept = tmp_path / judge.JUDGE_FILE
    assert kept.exists() and "training the reader's judge" in said[0]
    assert asked == [1]
    assert first["W1"].shape == (judge.JUDGE_INPUTS, judge.JUDGE_HIDDEN)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")
    monkeypatch.setattr(judge, "train_judge", no_training)
    said.clear()
    again = judge.judge_for_saving(tmp_path, no_training, said.append)
    assert all(np.array_equal(again[key], first[key]) for key in first)
    assert said == [f"the reader's judge, which tells one whole digit from a piece or a pair: "
                    f"{kept}, trained once for this dataset"]
    monkeypatch.setattr(judge, "train_judge", lambda *args: None)      # Ctrl-C: skipped
    monkeypatch.setattr(judge, "JUDGE_RECIPE", "another")
    said.clear()
    assert judge.judge_for_saving(tmp_path, lambda: digits, said.append) is None
    assert "holds a judge of another recipe" in said[0] and "skipped the judge" in said[-1]
    kept.write_bytes(b"not a model")
    said.clear()
    judge.judge_for_saving(tmp_path, lambda: digits, said.append)
    assert said[0].startswith("warning: ") and "training the reader's judge again" in said[0]
