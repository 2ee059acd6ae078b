"""The doctor measured as its users meet it: runs of mnist.py with one setting spoiled, each
run short, then run again with the doctor's first remedy added to its flags, validation
accuracy before and after.

    python -m extras.broken_runs --mirror ../shared/datasets/mnist      # all of them
    python -m extras.broken_runs --half held-out --epochs 3             # the held-out half

The doctor's thresholds were chosen on the "tuning" half; the "held-out" half was never
looked at while choosing, and is the figure to quote. A run that diverges counts as
chance (10%) before, and its error's flag is the first remedy.
"""
import argparse
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

# (name, flags, half): one setting spoiled each, the rest mnist.py's defaults.
BROKEN_RUNS = [
    ("a 4-unit layer", "--hidden 4", "tuning"),
    ("dropout 0.85", "--dropout 0.85", "tuning"),
    ("weight decay 30", "--weight-decay 30", "tuning"),
    ("SGD in batches of 8,192", "--optimizer sgd --batch-size 8192", "tuning"),
    ("SGD at 1/50 of its rate", "--optimizer sgd --lr 0.001", "tuning"),
    ("tanh, SGD at 25x its rate", "--activation tanh --optimizer sgd --lr 1.25", "tuning"),
    ("tanh, Adam at 25x its rate", "--activation tanh --lr 0.05", "tuning"),
    ("16 units, 1 epoch, SGD at 1/100", "--hidden 16 --epochs 1 --optimizer sgd --lr 0.0005",
     "tuning"),
    ("a 6-unit bottleneck", "--hidden 576,6", "held-out"),
    ("dropout 0.75 in a narrow net", "--hidden 128,128 --dropout 0.75", "held-out"),
    ("weight decay 1 with SGD", "--optimizer sgd --weight-decay 1", "held-out"),
    ("Adam at 1/100 of its rate", "--lr 0.00002", "held-out"),
    ("Adam in batches of 16,384", "--batch-size 16384", "held-out"),
    ("sigmoid, SGD at 1/10 its rate", "--activation sigmoid --optimizer sgd --lr 0.005", "held-out"),
    ("relu, SGD at 40x its rate", "--optimizer sgd --lr 2", "held-out"),
]
HEALTHY_RUNS = [("mnist.py's defaults", "", "healthy")]
ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=["tuning", "held-out", "healthy", "all"],
                        default="all", help="which runs (default: all)")
    parser.add_argument("--epochs", type=int, default=3, help="each run's epochs (default: 3)")
    parser.add_argument("--mirror", default=None, help="MNIST mirror for mnist.py (default: none)")
    parser.add_argument("--only", default=None, help="runs whose name contains this (default: all)")
    args = parser.parse_args(argv)
    runs = [run for run in BROKEN_RUNS + HEALTHY_RUNS
            if args.half in ("all", run[2]) and (args.only is None or args.only in run[0])]
    print(f"{'run':32s} {'half':9s} {'before':>7s}  {'first remedy':28s} {'after':>7s}  gain")
    helped = {}
    for name, flags, half in runs:
        before, remedy, finding = measure(flags, args)
        after = measure(f"{flags} {remedy}", args)[0] if remedy else None
        gain = None if after is None else after - before
        helped.setdefault(half, []).append(gain is not None and gain >= 1.0)
        print(f"{name:32s} {half:9s} {before:6.2f}%  {remedy or finding or '-':28s} "
              f"{'' if after is None else f'{after:6.2f}%'}  "
              f"{'' if gain is None else f'{gain:+.2f}'}", flush=True)
    for half, results in helped.items():
        if half != "healthy":
            print(f"{half}: the first remedy raised validation accuracy by >= 1 point in "
                  f"{sum(results)} of {len(results)}")
    return 0


def measure(flags, args):
    """(validation accuracy of the last epoch in %, the first remedy's flags or None, the
    first finding's name) of `python mnist.py FLAGS`; a diverged run is at chance, 10%."""
    command = [sys.executable, str(ROOT / "mnist.py"), "--epochs", str(args.epochs),
               "--show", "0", "--runs", "none", *(["--mirror", args.mirror] if args.mirror else []),
               *shlex.split(flags)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    output = done.stdout + done.stderr
    accuracies = re.findall(r"val +([0-9.]+)%", done.stdout)
    accuracy = float(accuracies[-1]) if accuracies else 10.0
    finding = re.search(r"^- ([a-z ]+):", done.stdout, re.M)
    tried = re.search(r"try:? (--[a-z-]+(?: [^-;.\s][^;\s]*)?)", output)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{shlex.join(command)} failed:\n{output[-2000:]}")
    print(f"    ({shlex.join(command[2:])}: {accuracy:.2f}%, "
          f"{time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return accuracy, tried.group(1).rstrip(".,") if tried else None, finding.group(1) if finding else None


if __name__ == "__main__":
    sys.exit(main())
