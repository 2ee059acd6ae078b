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
    for name, shape, data in (("train-images-idx3-ubyte", (3000, 28, 28),
                               rng.integers(0, 256, 3000 * 784)),
                              ("train-labels-idx1-ubyte", (3000,), rng.integers(0, 10, 3000))):
        header = bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes()   # IDX's
        raw = header + data.astype(np.uint8).tobytes()
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
    assert row[0] == "small-sgd32" and row[2] == "nan" and float(row[-1]) > 0   # a ratio: on a
    # busy machine one rep of the floor may take longer than nn.py's


def test_a_busy_machine_gets_the_thread_tip_and_a_quiet_one_nothing(monkeypatch):
    """The OPENBLAS_NUM_THREADS tip appears when other programs keep the CPUs busy while
    mnist.py loads its data, this program's own CPU seconds not counted: busy 1.5 s of the
    2 s two cores had, 0.3 s of it ours, is 60%; 0.8 s busy is 25%, no tip. Never when
    the threads are already set, without /proc/stat, or over too short a window. Nothing
    sleeps: the readings are all it takes."""
    logged = []
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "sysconf", lambda name: 100)          # ticks a second

    def hint(busy_ticks, total_ticks, cpus=(1000, 5000), own=0.3):
        now = None if cpus is None else (cpus[0] + busy_ticks, cpus[1] + total_ticks)
        monkeypatch.setattr(bench, "cpu_reading", lambda: (now, 1.0 + own))
        bench.busy_machine_hint((cpus, 1.0), logged.append)
        return len(logged)

    assert hint(150, 200) == 1 and "60%" in logged[0] and "OPENBLAS_NUM_THREADS=1" in logged[0]
    assert hint(80, 200) == 1                            # 25%: quiet enough
    assert hint(150, 200, cpus=None) == 1                # no /proc/stat
    assert hint(20, 20, own=0) == 1                      # a tenth of a second: too short
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert hint(190, 200) == 1


def test_cpu_times_are_read_where_linux_keeps_them():
    """On Linux, busy time never exceeds the total, and both only grow."""
    first = bench.cpu_times()
    if first is None:
        return
    last = bench.cpu_times()
    assert 0 <= first[0] <= first[1] and last[0] >= first[0] and last[1] >= first[1]
