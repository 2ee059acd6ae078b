"""Tests of bench.py on a small stand-in for MNIST: each side times an epoch, and the
table comes out with or without PyTorch."""
import gzip
import os

import numpy as np

from extras import bench


def test_the_bench_times_each_side_and_says_what_it_compared(tmp_path, monkeypatch, capsys):
    """Without PyTorch the table has nn.py and the floor, and says why no PyTorch."""
    rng = np.random.default_rng(0)
    (tmp_path / "mnist").mkdir()
    for name, header, data in (("train-images-idx3-ubyte", 16, rng.integers(0, 256, 3000 * 784)),
                               ("train-labels-idx1-ubyte", 8, rng.integers(0, 10, 3000))):
        raw = bytes(header) + data.astype(np.uint8).tobytes()
        (tmp_path / "mnist" / (name + ".gz")).write_bytes(gzip.compress(raw))
    X, labels = bench.training_images(tmp_path / "mnist")
    assert X.shape == (3000, 784) and X.dtype == np.float32 and 0 <= X.min() <= X.max() <= 1
    for side in ("nn", "floor"):
        assert bench.SIDES[side](X, labels, *bench.CASES["small-adam128"]) > 0
    monkeypatch.setattr(bench, "has_torch", lambda: False)
    assert bench.main(["--case", "small-sgd32", "--reps", "1", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not installed" in out
    row = out.splitlines()[-1].split()
    assert row[0] == "small-sgd32" and row[2] == "nan" and float(row[-1]) > 1


def test_a_busy_machine_gets_the_thread_tip_and_a_quiet_one_nothing(monkeypatch):
    """The OPENBLAS_NUM_THREADS tip appears when another core is busy, and only then."""
    logged = []
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 1.0, 0.9))
    bench.busy_machine_hint(logged.append)
    assert len(logged) == 1 and "OPENBLAS_NUM_THREADS=1" in logged[0]
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    bench.busy_machine_hint(logged.append)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    monkeypatch.setattr(os, "getloadavg", lambda: (1.9, 1.9, 1.9))
    bench.busy_machine_hint(logged.append)
    assert len(logged) == 1
