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
    """The OPENBLAS_NUM_THREADS tip appears when other programs keep the CPUs busy while
    mnist.py waits (here 60% of their time, then 10%), and only then; never when the
    threads are already set, or without /proc/stat."""
    logged, readings = [], []
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(bench, "cpu_times", lambda: readings.pop(0))
    for busy, said in ((60, 1), (10, 1), (None, 1)):
        readings[:] = [(1000, 5000), (1000 + busy, 5100)] if busy else [None, None]
        bench.busy_machine_hint(logged.append, seconds=0)
        assert len(logged) == said
    assert "OPENBLAS_NUM_THREADS=1" in logged[0] and "60%" in logged[0]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    readings[:] = [(1000, 5000), (1090, 5100)]
    bench.busy_machine_hint(logged.append, seconds=0)
    assert len(logged) == 1


def test_cpu_times_are_read_where_linux_keeps_them():
    """On Linux, busy time never exceeds the total, and both only grow."""
    first = bench.cpu_times()
    if first is None:
        return
    last = bench.cpu_times()
    assert 0 <= first[0] <= first[1] and last[0] >= first[0] and last[1] >= first[1]
