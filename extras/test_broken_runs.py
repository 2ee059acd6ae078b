"""Tests of extras/broken_runs.py: it reads mnist.py's output as a user would, the last
epoch's validation accuracy and the first remedy's flags, without running any training."""
import argparse
import subprocess

import pytest

from extras import broken_runs

FINDINGS = """epoch   2/3  loss 1.7525  train  42.23%  val  78.68%  lr 5.00e-03    2.6 s   21,482 img/s
epoch   3/3  loss 1.5470  train  50.13%  val  80.98%  lr 2.67e-08    2.6 s   21,482 img/s

what the doctor sees (epoch 3; update/weight also for epoch 1, where it is judged):
- too little training: 21 steps in all (3 epochs of 7 batches of 8192), and the loss still fell.
    likely cause: the network learns a little at each step.
    try: --batch-size 256; or --epochs 72.
"""
DIVERGED = ("mnist.py: error: the loss became 339 at epoch 1, batch 7 (it started near 2.37): "
            "training diverged. The steps are too large for this network: try --lr 0.125, "
            "10x lower than now, or find one with --find-lr.\n")


def fake_mnist(monkeypatch, stdout, stderr="", status=0):
    """mnist.py replaced by its printed output; the commands asked for, kept."""
    asked = []

    def run(command, **_):
        asked.append(command)
        return subprocess.CompletedProcess(command, status, stdout, stderr)
    monkeypatch.setattr(broken_runs.subprocess, "run", run)
    return asked


def test_the_last_epochs_accuracy_and_the_first_remedy_are_read(monkeypatch):
    asked = fake_mnist(monkeypatch, FINDINGS)
    args = argparse.Namespace(epochs=3, mirror=None)
    assert broken_runs.measure("--optimizer sgd --batch-size 8192", args) == \
        (80.98, "--batch-size 256", "too little training")
    assert asked[0][-4:] == ["--optimizer", "sgd", "--batch-size", "8192"]


def test_a_diverged_run_is_at_chance_and_its_error_names_the_remedy(monkeypatch):
    fake_mnist(monkeypatch, "", DIVERGED, status=1)
    args = argparse.Namespace(epochs=3, mirror=None)
    assert broken_runs.measure("--lr 1.25", args) == (10.0, "--lr 0.125", None)


def test_a_crash_is_no_measurement(monkeypatch):
    fake_mnist(monkeypatch, "", "Traceback (most recent call last): ...", status=2)
    args = argparse.Namespace(epochs=3, mirror=None)
    with pytest.raises(RuntimeError, match="failed"):
        broken_runs.measure("--lr 1", args)


def test_the_set_has_a_dozen_broken_runs_in_two_halves_each_spoiling_one_setting():
    halves = [half for _, _, half in broken_runs.BROKEN_RUNS]
    assert len(halves) >= 12 and {"tuning", "held-out"} == set(halves)
    assert abs(halves.count("tuning") - halves.count("held-out")) <= 1
