"""The doctor's modes on the terminal: --doctor runs nn.sanity_check's checks before any
training, --find-lr nn.find_lr's learning-rate range test. Each prints what it saw and
exits; settings are mnist.py's flags (vars(args)), and say() words a remedy as flags.
"""
import numpy as np

import nn


def check(params, X, labels, settings, say):
    """--doctor: the checks of nn.sanity_check, one line each, a failure with its likely
    cause and what to try; returns the exit status, 1 if a check failed."""
    print("the doctor's checks before training:")
    results = nn.sanity_check(params, X, labels, activation=settings["activation"],
                              rng=np.random.default_rng(settings["seed"]))
    for result in results:
        print(f"  {'passed' if result['passed'] else 'FAILED'}  {result['check']:13s} "
              f"{result['seen']}")
        if not result["passed"]:
            remedies = "; or ".join(say(remedy) for remedy in result["remedies"])
            print(f"      likely cause: {result['cause']}." +
                  (f"\n      try: {remedies}." if remedies else ""))
    if all(result["passed"] for result in results):
        return 0
    print("  a failed check means training would not tell you much: fix it first.")
    return 1


def find_lr(params, X, labels, settings, say=None):
    """--find-lr: the learning-rate range test, the losses it saw as bars, its suggestion;
    returns the exit status, 1 when the curve has no minimum to suggest from."""
    optimizer, batch_size = settings["optimizer"], settings["batch_size"]
    found = nn.find_lr(params, X, labels, activation=settings["activation"],
                       optimizer=optimizer, momentum=settings["momentum"],
                       batch_size=batch_size, rng=np.random.default_rng(settings["seed"]))
    lrs, losses = np.array(found["lrs"]), np.array(found["losses"])
    print(f"learning-rate range test ({optimizer}, batch {batch_size}): the smoothed "
          f"training loss as the rate grew, a bar per step")
    for k in range(0, len(lrs), max(1, len(lrs) // 25)):
        bar = "#" * int(1 + 50 * (losses[k] - losses.min()) / max(np.ptp(losses), 1e-12))
        print(f"  lr {lrs[k]:8.1e}  loss {losses[k]:7.4f}  {bar}")
    if found["suggestion"] is None:
        print(f"no rate to suggest: the loss never fell by a tenth from {losses[0]:.3g}, so "
              f"the curve has no minimum; whatever stops this network learning is not its "
              f"rate: see --doctor")
        return 1
    print(f"suggested: --lr {found['suggestion']:.2g} (1/{nn.FIND_LR_MARGIN[optimizer]} of "
          f"the rate where the loss was lowest; a starting point, not a promise)")
    return 0
