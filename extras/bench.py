"""How fast nn.train() is: one epoch over 55,000 MNIST images, against the same loop in
PyTorch (when it is installed: it never is a requirement) and against the matrix
multiplies alone, the floor that no implementation of this network can go below.

    python -m extras.bench                 # every case, medians of 3 (a few minutes)
    python -m extras.bench --case default --reps 5

Each timing runs in a fresh process, the sides taking turns (nn, torch, floor, nn, ...),
so that neither library's threads meet the other's and a machine's drift hits all three;
each side first warms up on 2,048 images. The MNIST files come from --data-dir, where
mnist.py keeps them (run python mnist.py once first).
"""
import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CASES = {  # name: (layer sizes, optimizer, learning rate, batch size, dropout, schedule)
    "default": ([784, 576, 576, 10], "adam", 2e-3, 256, 0.3, "cosine"),    # mnist.py's
    "wide": ([784, 1024, 1024, 10], "adam", 1e-3, 128, 0.3, "cosine"),
    "small-sgd32": ([784, 256, 128, 64, 10], "sgd", 0.01, 32, 0.0, "constant"),
    "small-adam128": ([784, 256, 128, 64, 10], "adam", 1e-3, 128, 0.0, "constant"),
}
ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append",
                        help="a case to time; repeatable (default: every case)")
    parser.add_argument("--reps", type=int, default=3, help="timings of each side (default: 3)")
    parser.add_argument("--data-dir", default=str(ROOT / "data"),
                        help="the folder mnist.py caches MNIST in (default: data/)")
    parser.add_argument("--side", choices=["nn", "torch", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    X, labels = training_images(Path(args.data_dir) / "mnist")
    if args.side:                                  # one timing, in this fresh process
        print(SIDES[args.side](X, labels, *CASES[args.case[0]]))
        return 0
    sides = ["nn", "floor"] + (["torch"] if has_torch() else [])
    if "torch" not in sides:
        print("PyTorch is not installed: nn.py is timed against the multiplies alone "
              "(pip install torch to compare with it)")
    print(f"{'case':14s} {'nn.py':>8s} {'PyTorch':>8s} {'floor':>8s}   nn/torch  nn/floor  "
          f"(one epoch, seconds, medians of {args.reps})")
    for case in args.case or list(CASES):
        times = {side: [] for side in sides}
        for _ in range(args.reps):
            for side in sides:
                command = [sys.executable, "-m", "extras.bench", "--side", side, "--case", case,
                           "--data-dir", args.data_dir]
                done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"bench: the {side} side of {case} failed:\n{done.stderr}")
                times[side].append(float(done.stdout))
        median = {side: statistics.median(values) for side, values in times.items()}
        torch = median.get("torch")
        ratio = statistics.median(n / t for n, t in zip(times["nn"], times["torch"])) \
            if torch else None
        print(f"{case:14s} {median['nn']:8.2f} {torch or float('nan'):8.2f} "
              f"{median['floor']:8.2f}   {ratio or float('nan'):8.2f}  "
              f"{median['nn'] / median['floor']:8.2f}")
    return 0


def training_images(folder):
    """The first 55,000 MNIST training images as float32 rows in [0, 1], and their labels,
    read from mnist.py's cache (decompressed, or still .gz)."""
    from extras.fetch import read_idx
    arrays = []
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        path = folder / name
        if not path.exists() and (folder / (name + ".gz")).exists():
            data = gzip.decompress((folder / (name + ".gz")).read_bytes())
        elif path.exists():
            data = path.read_bytes()
        else:
            sys.exit(f"bench: no {path}: run 'python mnist.py' once to download MNIST, or "
                     f"pass --data-dir")
        arrays.append(read_idx(data, name))
    return arrays[0].reshape(-1, 784)[:55_000].astype(np.float32) / 255, \
        arrays[1][:55_000].astype(np.int64)


def time_nn(X, labels, sizes, optimizer, lr, batch_size, dropout, schedule):
    """Seconds for one epoch of nn.train() (a warm-up on 2,048 images first)."""
    import nn
    params = nn.init_params(sizes, rng=np.random.default_rng(0))
    settings = dict(epochs=1, batch_size=batch_size, lr=lr, optimizer=optimizer,
                    dropout=dropout, schedule=schedule)                 # momentum, beta1: 0.9
    nn.train(params, X[:2048], labels[:2048], **settings)
    started = time.perf_counter()
    nn.train(params, X, labels, rng=np.random.default_rng(1), **settings)
    return time.perf_counter() - started


def time_torch(X, labels, sizes, optimizer, lr, batch_size, dropout, schedule):
    """Seconds for one epoch of the same network and loop in PyTorch, on the CPU."""
    import torch
    torch.set_num_threads(len(available_cpus()))
    X, labels = torch.from_numpy(X), torch.from_numpy(labels)
    layers = []
    for i in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[i - 1], sizes[i]))
        if i < len(sizes) - 1:
            layers += [torch.nn.ReLU()] + ([torch.nn.Dropout(dropout)] if dropout else [])
    model = torch.nn.Sequential(*layers)
    step = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9) if optimizer == "sgd" \
        else torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(n):
        batches = -(-n // batch_size)
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(step, batches) \
            if schedule == "cosine" else None
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            step.zero_grad(set_to_none=True)
            loss_fn(model(X[batch]), labels[batch]).backward()
            step.step()
            if decay is not None:
                decay.step()

    epoch(2048)
    started = time.perf_counter()
    epoch(len(X))
    return time.perf_counter() - started


def time_floor(X, labels, sizes, optimizer, lr, batch_size, dropout, schedule):
    """Seconds for the matrix multiplies of one epoch alone: each batch's forward products
    and backward ones (dW for every layer, dX for all but the first)."""
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal((a, b)) * 0.05).astype(np.float32)
               for a, b in zip(sizes, sizes[1:])]

    def step(batch):
        activations = [batch]
        for W in weights:
            activations.append(activations[-1] @ W)
        gradient = activations[-1]
        for i in range(len(weights) - 1, -1, -1):
            activations[i].T @ gradient
            if i:
                gradient = gradient @ weights[i].T

    for start in range(0, 2048, batch_size):
        step(X[start:start + batch_size])
    started = time.perf_counter()
    for start in range(0, len(X), batch_size):
        step(X[start:start + batch_size])
    return time.perf_counter() - started


SIDES = {"nn": time_nn, "torch": time_torch, "floor": time_floor}


def has_torch():
    """Whether PyTorch can be imported here (it is looked for, never required)."""
    return subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0


def available_cpus():
    """The CPUs this process may run on."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)


def cpu_reading():
    """What busy_machine_hint() compares with later: the CPUs' (busy, total) ticks since
    boot (None where there is no /proc/stat), and this process's own CPU seconds."""
    own = os.times()
    return cpu_times(), own.user + own.system


def busy_machine_hint(since, log=print):
    """Advice when other programs keep a core busy: OpenBLAS splits every matrix product
    over all cores and waits for the slowest, so with one of two busy an epoch can take
    twice as long as with OPENBLAS_NUM_THREADS=1 (which must be set before NumPy starts).
    Busy is what the CPUs did between `since` (a cpu_reading() taken when the program
    started) and now, less this program's own CPU time: no pause of its own, and not the
    load average, which still counts a run that ended a minute ago. A window shorter
    than MIN_WINDOW seconds is too short to tell, and says nothing."""
    (first, own_first), (last, own_last) = since, cpu_reading()
    if "OPENBLAS_NUM_THREADS" in os.environ or (os.cpu_count() or 1) < 2 or first is None \
            or last is None:
        return                                     # no /proc/stat: not Linux
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = (last[1] - first[1]) / tick            # seconds of all the cores together
    if total < MIN_WINDOW * os.cpu_count():
        return
    busy = ((last[0] - first[0]) / tick - (own_last - own_first)) / total
    if busy >= 0.4:
        log(f"note: other programs are keeping this machine busy ({100 * busy:.0f}% of "
            f"its {os.cpu_count()} cores' time); if epochs are slow, OPENBLAS_NUM_THREADS=1 "
            f"python mnist.py ... can be twice as fast")


MIN_WINDOW = 0.2


def cpu_times():
    """(busy, total) time of all CPUs since boot, in ticks, from Linux's /proc/stat (its
    first line: user nice system idle iowait irq softirq steal ...); None elsewhere."""
    try:
        with open("/proc/stat") as file:
            ticks = [int(value) for value in file.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


if __name__ == "__main__":
    sys.exit(main())
