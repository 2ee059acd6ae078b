"""The doctor on the terminal: after a run, what it saw in training (print_findings); and
two modes that print and exit, --doctor (nn.sanity_check's checks before any training)
and --find-lr (nn.find_lr's learning-rate range test). settings are mnist.py's flags
(vars(args)); say() words one of nn.py's remedies as flags.
"""
import numpy as np

import nn


def check(params, X, labels, settings, say):
    """--doctor: the checks of nn.sanity_check, one line each, a failure with its likely
    cause and what to try; returns the exit status, 1 if a check failed."""
    print("the doctor's checks before training:")
    results = nn.sanity_check(params, X, labels, activation=settings["activation"],
                              optimizer=settings["optimizer"], lr=settings["lr"],
                              **momentum(settings),
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
                       optimizer=optimizer, **momentum(settings),
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


def momentum(settings):
    """mnist.py's --momentum as nn.py names it: SGD's momentum, Adam's beta1."""
    return {"momentum" if settings["optimizer"] == "sgd" else "beta1": settings["momentum"]}


def finding_text(found, say, prefix="- "):
    """One of nn.diagnose()'s findings in three lines: what was seen, its likely cause,
    and the remedies to try, each said by say()."""
    remedies = "; or ".join(say(remedy) for remedy in found["remedies"])
    return (f"{prefix}{found['check']}: {found['seen']}.\n    likely cause: {found['cause']}."
            f"\n    try: {remedies}.")


def print_findings(history, sizes, say):
    """The training doctor's view after a run: each layer's health in the last epoch of
    history (nn.train's records; sizes: the layers'), then what nn.diagnose() finds,
    each remedy said by say()."""
    if not history:
        return
    last = history[-1]
    print(f"\nwhat the doctor sees (epoch {last['epoch']}; update/weight also for epoch 1, "
          f"where it is judged):\nlayer  shape       weight rms  grad rms  update/weight "
          f"(epoch 1)  dead or saturated")
    for layer, start in zip(last["layers"], history[0]["layers"]):
        i, share = layer["layer"], layer["dead"] if layer["dead"] is not None else layer["saturated"]
        if share is not None:
            share = f"{100 * share:5.1f}% {'dead' if layer['dead'] is not None else 'saturated'}"
        else:                                    # leaky_relu units neither die nor saturate
            share = "(output layer)" if i == len(last["layers"]) else "     -"
        print(f"{i:5d}  {f'{sizes[i - 1]}x{sizes[i]}':10s}  {layer['weight_rms']:10.4f}  "
              f"{layer['grad_rms']:8.1e}  {layer['update_ratio']:8.1e} "
              f"({start['update_ratio']:7.1e})       {share}")
    findings = nn.diagnose(history)
    for found in findings:
        print(finding_text(found, say))
    if not findings:
        print("nothing looks wrong by the doctor's rules of thumb.")
