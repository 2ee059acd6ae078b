"""Tests for nn.py and mnist.py: shapes, gradients against finite differences, convergence
on small problems, determinism, saving, bad input, and the MNIST loader on files made here.

Run with:  python -m pytest -q
Needs no network and no data: every file a test reads, it writes first.
"""
import gzip
import json
import hashlib
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import pytest

import mnist
import nn
from extras import fetch, images, judge, page, reader, runs
from extras.conftest import centred_digit

ACTIVATIONS = list(nn.ACTIVATIONS)
STRICT = {"over": "raise", "invalid": "raise", "divide": "raise"}  # fail on any fp warning


def random_params(sizes, seed=0, dtype=np.float64):
    """A network with random weights *and* biases: zero biases would put relu's kink at
    z = 0 for inputs that dropout zeroes, where no derivative exists to check."""
    rng = np.random.default_rng(seed)
    params = nn.init_params(sizes, rng=rng, dtype=dtype)
    for key in params:
        params[key] = params[key] + 0.1 * rng.standard_normal(params[key].shape)
    return params


def toy_targets(loss, n, rng):
    """Targets of the right kind for each loss, for n samples."""
    if loss == "cross_entropy":
        return rng.integers(0, 3, n)
    if loss == "mse":
        return rng.standard_normal((n, 2))
    return rng.integers(0, 2, n)


OUTPUTS = {"cross_entropy": 3, "mse": 2, "binary_cross_entropy": 1}


def spiral(n_per_class=100, n_classes=3, seed=0):
    """The classic 3-arm spiral: not separable by any line, easy for a small network."""
    rng = np.random.default_rng(seed)
    X, labels = [], []
    for k in range(n_classes):
        radius = np.linspace(0.0, 1.0, n_per_class)
        angle = np.linspace(k * 4, (k + 1) * 4, n_per_class) + 0.2 * rng.standard_normal(n_per_class)
        X.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(n_per_class, k))
    return np.concatenate(X).astype(np.float32), np.concatenate(labels)


@pytest.fixture
def small():
    """A 4-5-3 network and six samples, two of each class: for the checks of bad input."""
    params = nn.init_params([4, 5, 3], rng=np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    return params, X, np.array([0, 1, 2, 0, 1, 2])


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("sizes", [[3, 2], [4, 5, 3], [6, 8, 7, 5, 10], [784, 16, 10]])
def test_init_forward_backward_shapes(sizes):
    """Every array has the shape the math says: W{i} (H{i-1}, H{i}), b{i} (H{i},), logits
    (N, C), and grads exactly the keys and shapes of params. Shape slips are the commonest bug."""
    params = nn.init_params(sizes, rng=np.random.default_rng(0))
    n_layers = len(sizes) - 1
    assert list(params) == [f"{kind}{i}" for i in range(1, n_layers + 1) for kind in "Wb"]
    for i in range(1, n_layers + 1):
        assert params[f"W{i}"].shape == (sizes[i - 1], sizes[i])
        assert params[f"b{i}"].shape == (sizes[i],)
        assert params[f"W{i}"].dtype == np.float32
        assert not params[f"b{i}"].any()
    assert nn.layer_sizes(params) == sizes
    X = np.random.default_rng(1).standard_normal((5, sizes[0])).astype(np.float32)
    logits, cache = nn.forward(params, X, "relu")
    assert logits.shape == (5, sizes[-1]) and logits.dtype == np.float32
    _, dlogits = nn.softmax_cross_entropy(logits, np.zeros(5, dtype=int))
    grads = nn.backward(params, cache, dlogits)
    assert list(grads) == list(params)
    for key in params:
        assert grads[key].shape == params[key].shape
        assert grads[key].dtype == np.float32


@pytest.mark.parametrize("init, expected_std", [("he", np.sqrt(2 / 400)),
                                                ("glorot", np.sqrt(2 / (400 + 300)))])
def test_init_scales_by_fan_in(init, expected_std):
    """He and Glorot scaling keep a signal's size from layer to layer; a wrong std makes
    deep networks start with exploding or vanishing activations."""
    params = nn.init_params([400, 300, 2], rng=np.random.default_rng(0), init=init)
    assert params["W1"].std() == pytest.approx(expected_std, rel=0.02)
    assert params["W1"].mean() == pytest.approx(0, abs=0.01 * expected_std)


def test_init_uses_only_the_given_generator():
    """Weights come from the rng passed in and nothing else, so a seed fixes them."""
    first = nn.init_params([5, 4, 3], rng=np.random.default_rng(7))
    np.random.seed(123)  # global state must not matter
    second = nn.init_params([5, 4, 3], rng=np.random.default_rng(7))
    other = nn.init_params([5, 4, 3], rng=np.random.default_rng(8))
    assert all(np.array_equal(first[key], second[key]) for key in first)
    assert not np.array_equal(first["W1"], other["W1"])


def test_the_heart_stands_alone():
    """Everything before nn.py's appendix banner computes with the heart's own functions.
    From the appendix it may call door checks that only raise (their result unused), the
    checks that hand back what they were given made usable (an int seed as a generator,
    a list as an array), the doctor's watch (its notes), and the fast twins that train()
    runs, each pinned to its plain version by a test below. Any other call, or a door
    check whose answer the heart uses, carries what the heart computes out of it."""
    import ast
    source = open(nn.__file__, encoding="utf-8").read()
    banner = source[:source.index("# ===" + "=" * 61 + " appendix")].count("\n") + 1
    tree = ast.parse(source)
    appendix = {node.name for node in tree.body if node.lineno > banner and hasattr(node, "name")}
    appendix |= {target.id for node in tree.body if node.lineno > banner and
                 isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}
    converters = {"check_batch", "check_logits", "check_labels", "check_targets", "check_rng",
                  "check_training", "check_dataset", "check_augmented"}
    observers_and_twins = {"new_watch", "watch_batch", "end_epoch", "FAST_OPTIMIZERS",
                           "dropout_keep_fast"}
    wrong = []
    for function in (node for node in tree.body if node.lineno < banner and
                     isinstance(node, ast.FunctionDef)):
        local = {arg.arg for arg in function.args.args + function.args.kwonlyargs} | \
            {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and
             isinstance(node.ctx, ast.Store)}
        statements = {id(node.value) for node in ast.walk(function) if isinstance(node, ast.Expr)}
        for node in ast.walk(function):
            if not isinstance(node, ast.Name) or node.id not in appendix - local:
                continue
            call = next((c for c in ast.walk(function) if isinstance(c, ast.Call) and c.func is node), None)
            if node.id in observers_and_twins or node.id in converters:
                continue
            if node.id.startswith("check_") and call is not None and id(call) in statements:
                continue
            wrong.append(f"{function.name} uses {node.id} (line {node.lineno})")
    assert not wrong, wrong
    assert source.count("len(params) // 2") == 1            # count_layers(), said once


def test_one_log_and_one_idx_parser_serve_the_whole_project():
    """mnist.py and extras/ share extras' log() and fetch.read_idx (bench.py reads the cache
    with it too): no second copy to drift."""
    from extras import bench
    import extras
    assert mnist.log is extras.log and not hasattr(mnist, "read_idx")
    assert "read_idx" in open(bench.__file__, encoding="utf-8").read()


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("loss", list(nn.LOSSES))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_central_differences(activation, loss, dropout):
    """backward() agrees with numerical differentiation for every activation and loss,
    with and without dropout: the one test that proves the hand-written calculus right."""
    rng = np.random.default_rng(1)
    params = random_params([4, 5, 6, OUTPUTS[loss]], seed=2)
    X = rng.standard_normal((7, 4))
    targets = toy_targets(loss, 7, rng)
    assert nn.gradient_check(params, X, targets, loss, activation=activation,
                             dropout=dropout) < 1e-6


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    """A check that cannot fail is worse than none: break backward and watch it fail."""
    params = random_params([4, 5, 3])
    X, labels = np.random.default_rng(0).standard_normal((6, 4)), np.arange(6) % 3
    assert nn.gradient_check(params, X, labels, activation="relu") < 1e-6
    monkeypatch.setattr(nn, "relu_backward", lambda da, z: da)  # forgets relu's mask
    monkeypatch.setitem(nn.ACTIVATIONS, "relu", (nn.relu, nn.relu_backward))
    assert nn.gradient_check(params, X, labels, activation="relu") > 1e-3


def test_softmax_cross_entropy_gradient_is_probs_minus_onehot_once():
    """A classic mistake: the softmax Jacobian applied again on top of probs - onehot."""
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, dlogits = nn.softmax_cross_entropy(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(4)[labels]
    np.testing.assert_allclose(dlogits, (probs - onehot) / 5, rtol=1e-12)
    assert loss == pytest.approx(-np.log(probs[np.arange(5), labels]).mean(), rel=1e-12)
    numeric = np.zeros_like(logits)
    step = 1e-6
    for j in np.ndindex(logits.shape):
        shifted = logits.copy()
        shifted[j] += step
        up = nn.softmax_cross_entropy(shifted, labels)[0]
        shifted[j] -= 2 * step
        down = nn.softmax_cross_entropy(shifted, labels)[0]
        numeric[j] = (up - down) / (2 * step)
    np.testing.assert_allclose(dlogits, numeric, atol=1e-9)


def test_leaky_relu_backward_masks_on_the_input_not_the_gradient():
    """A classic mistake: leaky relu's backward chose the slope by the sign of the upstream
    gradient instead of the input's."""
    z = np.array([2.0, 2.0, -2.0, -2.0])
    da = np.array([-1.0, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal(nn.leaky_relu_backward(da, z), [-1.0, 1.0, -0.01, 0.01])
    np.testing.assert_array_equal(nn.relu_backward(da, z), [-1.0, 1.0, 0.0, 0.0])


def test_gradients_are_averaged_over_the_batch_like_the_loss():
    """A classic mistake: gradients summed over the batch while the loss was a mean. Repeating the
    batch changes neither the mean loss nor, therefore, its gradient."""
    params = random_params([3, 4, 2])
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    for loss_fn, targets in [(nn.softmax_cross_entropy, labels),
                             (nn.mean_squared_error, rng.standard_normal((5, 2)))]:
        logits, cache = nn.forward(params, X, "relu")
        loss_once, dlogits = loss_fn(logits, targets)
        grads_once = nn.backward(params, cache, dlogits)
        logits, cache = nn.forward(params, np.concatenate([X, X, X]), "relu")
        loss_thrice, dlogits = loss_fn(logits, np.concatenate([targets, targets, targets]))
        grads_thrice = nn.backward(params, cache, dlogits)
        assert loss_thrice == pytest.approx(loss_once, rel=1e-12)
        for key in params:
            np.testing.assert_allclose(grads_thrice[key], grads_once[key], rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_give_finite_loss_without_warnings(dtype):
    """A classic mistake: log(0) turned the loss into inf/NaN. Log-sum-exp keeps it exact."""
    logits = np.array([[1000.0, -1000.0, 0.0], [3e30, 0.0, -3e30]], dtype=dtype)
    with np.errstate(**STRICT):
        loss, dlogits = nn.softmax_cross_entropy(logits, np.array([1, 0]))
        probs = nn.softmax(logits)
        bce, dbce = nn.binary_cross_entropy(np.array([[1000.0], [-1000.0]], dtype=dtype), [0, 1])
        s = nn.sigmoid(np.array([-1000.0, 0.0, 1000.0], dtype=dtype))
    assert loss == pytest.approx((2000.0 + 0.0) / 2)
    assert np.isfinite(dlogits).all() and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    assert bce == pytest.approx(1000.0) and np.isfinite(dbce).all()
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


def test_training_stops_with_a_clear_error_when_the_loss_diverges():
    """A classic mistake: the loss went to inf/NaN and training carried on."""
    X, labels = spiral()
    params = nn.init_params([2, 32, 3], rng=np.random.default_rng(0))
    with pytest.raises(FloatingPointError, match=r"try lr=1000\.0, 10x lower than now"):
        nn.train(params, X * 1e3, labels, epochs=5, lr=1e4, optimizer="sgd")


def test_gradient_check_fails_loudly_on_nan():
    """A NaN anywhere in the check is a failure with a message, never an error of 0."""
    params = random_params([4, 5, 3])
    X, labels = np.random.default_rng(0).standard_normal((6, 4)), np.arange(6) % 3
    with pytest.raises(ValueError, match="NaN"):
        nn.gradient_check(params, np.where(X > 1, np.nan, X), labels, activation="relu")
    real_backward = nn.backward
    nan_backward = lambda *args: {k: g * np.nan for k, g in real_backward(*args).items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nn, "backward", nan_backward)
        with pytest.raises(FloatingPointError, match="NaN or infinity"):
            nn.gradient_check(params, X, labels, activation="relu")


# ---------------------------------------------------------------- convergence

def test_learns_xor():
    """XOR is the smallest problem a straight line cannot solve: a hidden layer must learn it."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 0])
    params = nn.init_params([2, 8, 2], rng=np.random.default_rng(0), init="glorot")
    nn.train(params, X, labels, epochs=300, batch_size=4, lr=0.1, activation="tanh",
             rng=np.random.default_rng(1))
    assert nn.accuracy(labels, nn.predict(params, X, "tanh")) == 1.0


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.1), ("adam", 0.01)])
def test_learns_a_spiral(optimizer, lr):
    """Three interleaved spirals need curved boundaries; both optimizers must find them."""
    X, labels = spiral()
    params = nn.init_params([2, 64, 64, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X, labels, epochs=200, batch_size=32, lr=lr,
                       optimizer=optimizer, rng=np.random.default_rng(1))
    assert nn.accuracy(labels, nn.predict(params, X, "relu")) >= 0.95
    assert history[-1]["loss"] < history[0]["loss"] / 5


def test_learns_a_regression_with_mse():
    """With loss='mse' the network fits a curve (sin x), not classes."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (256, 1)).astype(np.float32)
    targets = np.sin(X)
    params = nn.init_params([1, 32, 32, 1], rng=rng, init="glorot")
    history = nn.train(params, X, targets, epochs=300, batch_size=32, lr=0.01, optimizer="adam",
                       loss="mse", activation="tanh", rng=rng, schedule="cosine")
    logits, _ = nn.forward(params, X, "tanh")
    assert nn.mean_squared_error(logits, targets)[0] < 0.005
    assert history[-1]["train_accuracy"] is None


def test_learns_a_circle_with_binary_cross_entropy():
    """One output and binary_cross_entropy answer a yes/no question (inside the circle?)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 2)).astype(np.float32)
    labels = ((X ** 2).sum(axis=1) < 0.5).astype(int)
    params = nn.init_params([2, 32, 1], rng=rng)
    nn.train(params, X, labels, epochs=200, lr=0.01, optimizer="adam",
             loss="binary_cross_entropy", rng=rng)
    assert nn.accuracy(labels, nn.predict(params, X, "relu")) >= 0.95


# ---------------------------------------------------------------- training loop

def test_same_seed_gives_bit_identical_training():
    """The same seed gives the same network bit for bit, and another seed a different one:
    results you can reproduce, and randomness that is really used."""
    X, labels = spiral()
    results = []
    for _ in range(2):
        params = nn.init_params([2, 16, 3], rng=np.random.default_rng(3))
        nn.train(params, X, labels, epochs=3, dropout=0.2, rng=np.random.default_rng(4))
        results.append(params)
    for key in results[0]:
        assert np.array_equal(results[0][key], results[1][key])
    params = nn.init_params([2, 16, 3], rng=np.random.default_rng(3))
    nn.train(params, X, labels, epochs=3, dropout=0.2, rng=np.random.default_rng(5))
    assert not np.array_equal(params["W1"], results[0]["W1"])


def test_every_epoch_visits_every_sample_in_a_new_order(monkeypatch):
    """Each epoch sees every sample exactly once, shuffled anew: a loop that never shuffles
    (a known bug of a popular example) learns the order of the data."""
    X = np.arange(40, dtype=np.float32).reshape(20, 2)  # row i starts with 2 * i
    labels = np.zeros(20, dtype=int)
    seen = []
    real_forward = nn.forward

    def recording_forward(params, X_batch, *args, **kwargs):
        seen.extend((X_batch[:, 0] / 2).astype(int).tolist())
        return real_forward(params, X_batch, *args, **kwargs)

    monkeypatch.setattr(nn, "forward", recording_forward)
    params = nn.init_params([2, 3, 2], rng=np.random.default_rng(0))
    nn.train(params, X, labels, epochs=2, batch_size=3, lr=1e-6)
    first, second = seen[:20], seen[20:]
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != list(range(20)) and first != second


def test_validation_draws_nothing_from_the_training_stream():
    """Measuring on validation data must not change training: it draws no random numbers."""
    X, labels = spiral()
    final = []
    for with_validation in (False, True):
        params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
        extra = {"X_val": X[::7], "targets_val": labels[::7]} if with_validation else {}
        history = nn.train(params, X, labels, epochs=3, dropout=0.3,
                           rng=np.random.default_rng(1), **extra)
        final.append(params)
    assert history[-1]["val_accuracy"] is not None and history[-1]["val_loss"] > 0
    for key in final[0]:
        assert np.array_equal(final[0][key], final[1][key])


def test_history_records_each_epoch_and_calls_back():
    """The history holds one record per epoch, on_epoch sees each, and the validation figures
    equal evaluate()'s."""
    X, labels = spiral()
    params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
    printed = []
    history = nn.train(params, X, labels, epochs=4, lr=0.05, X_val=X, targets_val=labels,
                       on_epoch=printed.append, schedule="linear", final_lr=0.005)
    assert printed == history and [r["epoch"] for r in history] == [1, 2, 3, 4]
    for record in history:
        assert 0 <= record["train_accuracy"] <= 1 and 0 <= record["val_accuracy"] <= 1
        assert record["seconds"] > 0 and record["samples_per_second"] > 0
    assert history[0]["lr"] > history[-1]["lr"] >= 0.005
    val_loss, val_accuracy = nn.evaluate(params, X, labels, activation="relu")
    assert (val_loss, val_accuracy) == pytest.approx((history[-1]["val_loss"],
                                                      history[-1]["val_accuracy"]))


def test_should_stop_ends_training_after_the_current_batch():
    """should_stop() (Ctrl-C in mnist.py) ends training after the batch in progress."""
    X, labels = spiral()
    params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
    before = {key: value.copy() for key, value in params.items()}
    calls = []

    def stop_now():
        calls.append(1)
        return True
    history = nn.train(params, X, labels, epochs=5, should_stop=stop_now)
    assert history == [] and len(calls) == 1
    assert not np.array_equal(before["W1"], params["W1"])  # the one batch was applied


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedules_decay_from_lr_to_final_lr(schedule):
    """Both decaying schedules start at lr, end at final_lr and never go up on the way."""
    rates = [nn.scheduled_lr(0.1, step, 100, schedule, 0.001) for step in range(101)]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(0.001)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert nn.scheduled_lr(0.1, 50, 100) == 0.1


def test_a_loss_far_above_its_start_stops_training_with_advice():
    """A loss 100x above its start stops training with advice, not a run that 'finishes'."""
    X, labels = spiral()
    params = nn.init_params([2, 32, 3], rng=np.random.default_rng(0))
    with pytest.raises(FloatingPointError, match=r"diverged.*try lr=10\.0, 10x lower"):
        nn.train(params, X, labels, epochs=20, lr=100.0, optimizer="adam")


def test_divergence_names_the_real_cause():
    """When the cause of a blow-up is float16 parameters or NaN targets, the message says so
    instead of blaming the learning rate."""
    X, labels = spiral()
    params = nn.init_params([2, 32, 3], rng=np.random.default_rng(0), dtype=np.float16)
    with pytest.raises(FloatingPointError, match="float16"):
        nn.train(params, X * 300, labels, epochs=5, lr=10.0, optimizer="sgd")
    params = nn.init_params([2, 8, 1], rng=np.random.default_rng(0))
    targets = np.sin(X[:, :1])
    targets[7] = np.nan
    with pytest.raises(ValueError, match="targets hold NaN"):
        nn.train(params, X, targets, loss="mse")


def test_a_resumed_good_model_is_not_called_diverged_for_one_bad_batch():
    """A resumed model starts near loss 0; one batch 100x worse than that, but far below
    chance (here: the inputs of the third batch negated), does not stop training: the
    divergence limit is 100x the larger of the first loss and chance_loss, ln(3)."""
    X, labels = spiral()
    params = nn.init_params([2, 64, 3], rng=np.random.default_rng(0))
    nn.train(params, X, labels, epochs=150, lr=0.01, optimizer="adam")
    first_loss = nn.evaluate(params, X, labels, activation="relu")[0]
    bad_loss = nn.evaluate(params, -X, labels, activation="relu")[0]
    assert 100 * first_loss < bad_loss < 100 * math.log(3)      # the premise
    calls = []

    def third_batch_negated(X_batch, rng):
        calls.append(len(X_batch))
        return -X_batch if len(calls) == 3 else X_batch
    history = nn.train(params, X, labels, epochs=2, batch_size=100, lr=1e-4,
                       optimizer="adam", augment=third_batch_negated)
    assert history[0]["initial_loss"] < 0.05 and len(history) == 2


def test_adams_beta1_is_its_own_argument_and_an_int_seeds_the_generator():
    """Nothing passed to train() is silently ignored or renamed: Adam takes beta1 (0.9 by
    default), and a momentum given to Adam that is not its beta1, nesterov given to Adam,
    or beta1 given to SGD, is refused."""
    X, labels = spiral()
    runs = []
    for options in ({}, {"beta1": 0.9}, {"beta1": 0.5}):
        params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
        nn.train(params, X, labels, epochs=2, lr=0.01, optimizer="adam", rng=7, **options)
        runs.append(params["W1"])
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])
    params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="momentum and nesterov are SGD's.*beta1"):
        nn.train(params, X, labels, optimizer="adam", momentum=0.5)
    nn.train(params, X, labels, epochs=1, optimizer="adam", momentum=0.9)   # = beta1: no change
    with pytest.raises(ValueError, match="beta1 is Adam's"):
        nn.train(params, X, labels, optimizer="sgd", beta1=0.5)


# ---------------------------------------------------------------- optimizers

def paper_adam(P, g, m, s, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of Adam as Kingma & Ba's Algorithm 1 writes it, in plain NumPy."""
    m = beta1 * m + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g ** 2
    return P - lr * (m / (1 - beta1 ** t)) / (np.sqrt(s / (1 - beta2 ** t)) + eps), (m, s)


def paper_sgd(P, g, v, t, lr, momentum=0.9, nesterov=False):
    """One step of SGD with momentum (or Nesterov's look-ahead), in plain NumPy."""
    v = momentum * v + g
    return P - lr * (g + momentum * v if nesterov else v), (v,)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "nesterov"])
@pytest.mark.parametrize("fast", [False, True])
def test_optimizers_match_their_papers(optimizer, dtype, rtol, fast):
    """adam_step and sgd_step, and their fast twins, equal the papers' formulas
    transcribed in plain NumPy, step after step: on a W1 the fast ones update in several
    slices and a short last one (an entry skipped or updated twice would show), a bias,
    and a W2 that is no contiguous array (updated whole)."""
    rng = np.random.default_rng(0)
    assert 2 * nn.BLOCK < 400 * 400 < 3 * nn.BLOCK
    params = {"W1": rng.standard_normal((400, 400)).astype(dtype),
              "b1": rng.standard_normal(2).astype(dtype),
              "W2": rng.standard_normal((600, 300)).astype(dtype)[:, ::2]}   # 90,000 entries
    expected = {key: (value.copy(), (np.zeros_like(value),) * (2 if optimizer == "adam" else 1))
                for key, value in params.items()}
    state = {}
    for t in range(1, 6):
        grads = {key: rng.standard_normal(value.shape).astype(dtype) for key, value in params.items()}
        for key, (P, averages) in expected.items():
            expected[key] = paper_adam(P, grads[key], *averages, t, 0.01) if optimizer == "adam" \
                else paper_sgd(P, grads[key], *averages, t, 0.01, nesterov=optimizer == "nesterov")
        adam, sgd = (nn.adam_step_fast, nn.sgd_step_fast) if fast else (nn.adam_step, nn.sgd_step)
        if optimizer == "adam":
            adam(params, grads, state, 0.01)
        else:
            sgd(params, grads, state, 0.01, momentum=0.9, nesterov=optimizer == "nesterov")
    for key in params:
        np.testing.assert_allclose(params[key], expected[key][0], rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("dropout_keep", [nn.dropout_keep, nn.dropout_keep_fast])
def test_dropout_keeps_each_unit_with_probability_one_minus_drop(dropout_keep):
    """On 4 million units the share kept is 1 - drop to within the sampling noise (the
    fast twin's 16 random bits round it by 1/131072 at most), and forward scales the
    kept activations by 1 / (1 - drop), so that their mean is unchanged."""
    rng = np.random.default_rng(0)
    for drop in (0.1, 0.3, 0.5, 0.9):
        keep = dropout_keep((2000, 2000), drop, rng)
        assert keep.dtype == bool and abs(keep.mean() - (1 - drop)) < 1e-3
    params = {"W1": np.eye(4, dtype=np.float32), "b1": np.ones(4, np.float32),
              "W2": np.ones((4, 1), np.float32), "b2": np.zeros(1, np.float32)}
    _, cache = nn.forward(params, np.zeros((50_000, 4), np.float32), "relu", 0.3, rng,
                          dropout_keep)
    assert set(np.unique(cache["a1"])) == {0, np.float32(1 / 0.7)}
    assert cache["a1"].mean() == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("optimizer, averages", [(nn.sgd_step_fast, ["v"]),
                                                 (nn.adam_step_fast, ["m", "s"])])
def test_fast_optimizer_averages_never_hold_denormals(optimizer, averages):
    """A running average whose gradient has gone to 0 is set to 0 before it shrinks into
    the denormal range (below 1.2e-38), where the CPU computes 10-50x slower. Here one
    gradient of 1, then 899 of 0: 0.9**899 is 7e-42, a denormal, unless it is flushed."""
    params = {"W1": np.zeros((2, 2), dtype=np.float32), "b1": np.zeros(2, dtype=np.float32)}
    state = {}
    settings = {"momentum": 0.9} if optimizer is nn.sgd_step_fast else {"beta2": 0.9}
    for t in range(900):
        grads = {key: np.full_like(value, 1.0 if t == 0 else 0.0) for key, value in params.items()}
        optimizer(params, grads, state, 0.01, **settings)
    tiny = np.finfo(np.float32).tiny
    for key in params:
        for name in averages:
            average = state[key][name]
            assert average.dtype == np.float32
            assert not ((average != 0) & (np.abs(average) < tiny)).any(), (key, name, average)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("optimizer, settings", [
    ("adam", {"weight_decay": 0.01}), ("sgd", {"momentum": 0.9, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "nesterov": True})])
def test_the_fast_optimizers_take_the_plain_ones_steps(optimizer, settings, dtype, rtol):
    """llm.c's rule: the fast twin does what the plain version does. 200 steps of a real
    network (784-300-100-10 on random images, the gradients backward() gives) with each:
    the weights agree to rtol all along, in float64 and in float32."""
    rng = np.random.default_rng(0)
    X, labels = rng.random((64, 784)).astype(dtype), rng.integers(0, 10, 64)
    plain = nn.init_params([784, 300, 100, 10], rng=1, dtype=dtype)
    fast = {key: value.copy() for key, value in plain.items()}
    plain_step, fast_step = nn.OPTIMIZERS[optimizer], nn.FAST_OPTIMIZERS[optimizer]
    plain_state, fast_state = {}, {}
    for step in range(200):
        logits, cache = nn.forward(plain, X, "relu")
        grads = nn.backward(plain, cache, nn.softmax_cross_entropy(logits, labels)[1])
        plain_step(plain, grads, plain_state, 1e-3, **settings)
        fast_step(fast, grads, fast_state, 1e-3, **settings)     # the same gradients
        if step % 50 == 49:
            for key in plain:
                np.testing.assert_allclose(fast[key], plain[key], rtol=rtol, atol=rtol * 1e-2)
    assert fast_state["t"] == plain_state["t"] == 200


def test_train_steps_with_the_fast_twins_unless_told_plain(monkeypatch):
    """train() runs the fast optimizer and mask by default, the heart's with plain=True."""
    X, labels = spiral()
    called = []
    for table, name in ((nn.OPTIMIZERS, "plain"), (nn.FAST_OPTIMIZERS, "fast")):
        step = table["adam"]
        monkeypatch.setitem(table, "adam", lambda *args, step=step, name=name, **kw:
                            called.append(name) or step(*args, **kw))
    for plain in (False, True):
        called.clear()
        params = nn.init_params([2, 16, 3], rng=0)
        nn.train(params, X, labels, epochs=1, lr=0.01, optimizer="adam", dropout=0.2,
                 plain=plain)
        assert set(called) == {"plain" if plain else "fast"}


def test_adam_refuses_an_eps_that_is_zero_in_the_params_dtype():
    """eps = 1e-8 is 0 in float16: a weight whose gradients are all 0 would be 0 / 0."""
    params = {"W1": np.zeros((2, 2), np.float16), "b1": np.zeros(2, np.float16)}
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    for step in (nn.adam_step, nn.adam_step_fast):
        with pytest.raises(ValueError, match="eps=1e-08 is 0 in float16"):
            step(params, grads, {}, 1e-3)
    nn.adam_step(params, grads, {}, 1e-3, eps=1e-4)
    assert np.isfinite(params["W1"]).all()


@pytest.mark.parametrize("step_fn", [nn.sgd_step, nn.adam_step])
def test_weight_decay_shrinks_weights_not_biases(step_fn):
    """Decoupled weight decay multiplies W by 1 - lr * weight_decay and leaves biases alone."""
    params = {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    zero = {key: np.zeros_like(value) for key, value in params.items()}
    step_fn(params, zero, {}, 0.1, weight_decay=0.5)
    np.testing.assert_allclose(params["W1"], 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(params["b1"], 1.0)


def test_plain_sgd_with_weight_decay_is_l2_regularisation():
    """For plain SGD, decoupled decay is exactly the gradient of (weight_decay / 2) sum(W**2)."""
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    grads = {key: rng.standard_normal(p.shape) for key, p in params.items()}
    expected_W = params["W1"] - 0.1 * (grads["W1"] + 0.01 * params["W1"])  # d/dW of 0.005 W**2
    nn.sgd_step(params, grads, {}, 0.1, weight_decay=0.01)
    np.testing.assert_allclose(params["W1"], expected_W, rtol=1e-12)


# ---------------------------------------------------------------- measuring

def test_accuracy_and_confusion_matrix():
    """counts[true, predicted]: rows are the true classes, the diagonal the right answers."""
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    assert nn.accuracy(labels, predictions) == pytest.approx(4 / 6)
    counts = nn.confusion_matrix(labels, predictions, 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert counts.sum() == 6 and np.trace(counts) == 4


def test_predict_single_output_network_thresholds_at_zero():
    """A one-output classifier says 1 where its logit is > 0, i.e. probability > 0.5."""
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    np.testing.assert_array_equal(nn.predict(params, np.array([[-2.0], [3.0]]), "relu"), [0, 1])


def test_regression_values_come_from_outputs_not_predict():
    """outputs() returns a regression network's values; predict() is for classes."""
    rng = np.random.default_rng(0)
    params = nn.init_params([1, 8, 1], rng=rng)
    X = np.linspace(-1, 1, 5, dtype=np.float32)[:, None]
    values = nn.outputs(params, X, "relu", batch_size=2)
    logits, _ = nn.forward(params, X, "relu")
    np.testing.assert_allclose(values, logits, rtol=1e-6)
    assert values.shape == (5, 1) and not set(np.unique(values)) <= {0.0, 1.0}


def test_predict_converts_float64_input_chunk_by_chunk_with_the_same_result():
    """A float64 X (16 MB here) gives the same predictions as float32, converted to the
    network's float32 a chunk at a time: never a copy of the whole X (8 MB)."""
    params = nn.init_params([100, 5, 3], rng=np.random.default_rng(0))
    X64 = np.random.default_rng(1).standard_normal((20_000, 100))
    expected = nn.predict(params, X64.astype(np.float32), "relu")
    tracemalloc.start()
    try:
        predictions = nn.predict(params, X64, "relu", batch_size=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(predictions, expected)
    assert peak < 2_000_000, f"{peak:,} bytes at the peak"


# ---------------------------------------------------------------- the training doctor

def blobs(n=600, n_features=20, n_classes=3, seed=0):
    """Gaussian clusters in 20 dimensions, one per class: learnable, with some overlap."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    labels = rng.integers(0, n_classes, n)
    X = centres[labels] + 1.2 * rng.standard_normal((n, n_features))
    return X.astype(np.float32), labels


def checks(history):
    return [found["check"] for found in nn.diagnose(history)]


def test_every_layer_is_watched_each_epoch():
    """Each epoch's record holds every layer's health, and the numbers are what they claim."""
    X, labels = blobs()
    params = nn.init_params([20, 16, 8, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X, labels, epochs=2, lr=0.05)
    first = history[0]
    assert first["initial_loss"] > 0 and first["chance_loss"] == pytest.approx(np.log(3))
    layers = history[-1]["layers"]
    assert [layer["layer"] for layer in layers] == [1, 2, 3]
    for layer in layers:
        assert layer["weight_rms"] > 0 and layer["grad_rms"] > 0 and 0 < layer["update_ratio"] < 1
    assert 0 <= layers[0]["dead"] <= 1 and layers[2]["dead"] is None
    assert layers[0]["weight_rms"] == pytest.approx(np.sqrt(np.mean(params["W1"] ** 2)), rel=1e-5)


def test_the_update_ratio_is_the_step_actually_taken():
    """For plain SGD the step is lr * dW exactly, so the ratio can be checked by hand."""
    X, labels = blobs(n=64)
    params = nn.init_params([20, 8, 3], rng=np.random.default_rng(0))
    W2_before = params["W2"].copy()
    history = nn.train(params, X, labels, epochs=1, batch_size=64, lr=0.1, momentum=0.0)
    layer = history[0]["layers"][1]
    expected = np.sqrt(np.mean((params["W2"] - W2_before) ** 2)) / np.sqrt(np.mean(W2_before ** 2))
    assert layer["update_ratio"] == pytest.approx(expected, rel=1e-4)
    assert layer["update_ratio"] == pytest.approx(0.1 * layer["grad_rms"] /
                                                  np.sqrt(np.mean(W2_before ** 2)), rel=1e-4)


def test_a_healthy_run_gets_no_alarm():
    """A run that learns well gets no finding: a doctor that always worries is not heard."""
    X, labels = blobs(n=3000)
    params = nn.init_params([20, 64, 64, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X[:2000], labels[:2000], epochs=10, lr=0.01, batch_size=32,
                       X_val=X[2000:], targets_val=labels[2000:], rng=1)
    assert nn.diagnose(history) == []


def test_a_learning_rate_far_too_high_is_named():
    """Adam at lr 0.1 (100x its usual): huge update ratios and dead units, named as one
    finding, the rate the cause and the dead units its damage, the first remedy the rate."""
    X, labels = blobs()
    params = nn.init_params([20, 64, 64, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X, labels, epochs=5, lr=0.1, optimizer="adam", batch_size=32)
    found, = nn.diagnose(history)
    assert found["check"] == "learning rate too high" and "were dead" in found["seen"]
    remedy = found["remedies"][0]
    assert remedy["set"]["lr"] < 0.1 / 10 and remedy["say"] == f"lr={remedy['set']['lr']!r}"
    assert found["remedies"][1] == {"say": "activation='leaky_relu'",
                                    "set": {"activation": "leaky_relu"}}


def test_a_learning_rate_far_too_low_is_named():
    """SGD at lr 1e-6: tiny update ratios, named as the cause of the flat loss (which is
    not named again as "not learning", whose remedies would repeat and add to them)."""
    X, labels = blobs()
    params = nn.init_params([20, 64, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X, labels, epochs=5, lr=1e-6, momentum=0.0)
    assert checks(history) == ["learning rate too low"]


def test_dead_relu_units_are_named():
    """relu units pushed to z < 0 for every input never fire and never learn again."""
    X, labels = blobs()
    params = nn.init_params([20, 64, 3], rng=np.random.default_rng(0))
    params["b1"][:40] = -50.0                          # 40 of 64 units can never fire
    history = nn.train(params, X, labels, epochs=2, lr=0.01)
    assert history[-1]["layers"][0]["dead"] == pytest.approx(40 / 64)
    assert "dead units" in checks(history)


def test_vanishing_gradients_in_a_deep_sigmoid_network_are_named():
    """Eight sigmoid layers starve the first layer of gradient; the same stack of relu does
    not. The finding says its figures' epoch, and is the one cause given: no "not learning"
    besides it asks for the more layers that vanishing gradients advise against."""
    X, labels = blobs()
    params = nn.init_params([20] + [32] * 8 + [3], rng=np.random.default_rng(0), init="glorot")
    history = nn.train(params, X, labels, epochs=2, lr=0.1, activation="sigmoid")
    assert "vanishing gradients" in checks(history) and "not learning" not in checks(history)
    found = nn.diagnose(history)[checks(history).index("vanishing gradients")]
    first, last = history[0]["layers"][0]["grad_rms"], history[0]["layers"][-1]["grad_rms"]
    assert found["seen"].startswith("in epoch 1") and f"{first:.1e}" in found["seen"]
    assert f"{last:.1e}" in found["seen"] and "fewer layers" in found["try"]
    params = nn.init_params([20] + [32] * 8 + [3], rng=np.random.default_rng(0))
    history = nn.train(params, X, labels, epochs=2, lr=0.01, activation="relu")
    assert "vanishing gradients" not in checks(history)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_units_are_named_at_their_flat_ends(activation):
    """Units fed inputs 10x too large sit at a flat end of tanh or sigmoid, where the slope
    is 0, and are named; at the usual scale (|z| mostly below sigmoid's 4.6 and tanh's
    2.65) they are not."""
    X, labels = blobs()
    for scale, saturated in ((10, True), (0.5, False)):
        params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0), init="glorot")
        params["W1"] *= scale
        history = nn.train(params, X, labels, epochs=1, lr=1e-3, activation=activation)
        assert (history[-1]["layers"][0]["saturated"] > 0.5) == saturated
        assert ("saturated units" in checks(history)) == saturated


def test_output_weights_100x_too_large_are_seen_in_the_first_loss():
    """A network that knows nothing should say so (loss ln C); 100x weights make it sure,
    and wrong."""
    X, labels = blobs()
    params = nn.init_params([20, 64, 3], rng=np.random.default_rng(0))
    params["W2"] *= 100
    history = nn.train(params, X, labels, epochs=2, lr=1e-3, optimizer="adam")
    assert history[0]["initial_loss"] > 10 * np.log(3)
    assert "loss at start" in checks(history)


def test_memorising_a_handful_of_samples_is_named():
    """A big network on 20 samples learns them by heart: 100% there, far less on new ones."""
    X, labels = blobs(n=520)
    params = nn.init_params([20, 256, 256, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X[:20], labels[:20], epochs=60, lr=1e-3, optimizer="adam",
                       batch_size=10, X_val=X[20:], targets_val=labels[20:])
    assert history[-1]["train_accuracy"] == 1.0
    assert "memorising" in checks(history)


def test_validation_peaking_early_is_named():
    """Validation accuracy that peaked epochs ago means fewer epochs would have done."""
    history = [{"epoch": e, "loss": 1.0 / e, "train_accuracy": 0.9, "val_accuracy": v,
                "val_loss": 1 - v, "layers": [{"layer": 1, "update_ratio": 1e-3,
                                               "grad_rms": 1.0, "dead": 0.0, "saturated": None}]}
               for e, v in enumerate([0.80, 0.90, 0.88, 0.86, 0.85, 0.85], start=1)]
    assert "past its best" in checks(history)
    advice = nn.diagnose(history)[checks(history).index("past its best")]["try"]
    assert advice == "keep_best=True; epochs=2"


def remedies(history, check):
    """The settings each remedy of a finding would change."""
    found = nn.diagnose(history)
    return [remedy.get("set") for remedy in found[checks(history).index(check)]["remedies"]]


def test_the_advice_never_prescribes_what_is_already_on():
    """A run that memorises with dropout 0.3 and augmentation on is told to go further
    (dropout 0.5, keep the best epoch), never to turn on what it has."""
    X, labels = blobs(n=520)
    params = nn.init_params([20, 256, 256, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X[:10], labels[:10], epochs=60, lr=1e-3, optimizer="adam",
                       batch_size=10, X_val=X[20:], targets_val=labels[20:], dropout=0.3,
                       augment=lambda batch, rng: batch + 0.01 * rng.standard_normal(batch.shape))
    assert remedies(history, "memorising") == [{"dropout": 0.5}, {"keep_best": True}, None]
    params = nn.init_params([20, 256, 256, 3], rng=np.random.default_rng(0))
    history = nn.train(params, X[:10], labels[:10], epochs=60, lr=1e-3, optimizer="adam",
                       batch_size=10, X_val=X[20:], targets_val=labels[20:])
    assert nn.diagnose(history)[0]["remedies"][0]["setting"] == "augment"   # a function
    assert remedies(history, "memorising")[:3] == [None, {"dropout": 0.3},
                                                   {"keep_best": True}]


def test_the_learning_rate_advice_is_sized_from_the_run():
    """Dead units after too large steps: a rate 10x lower than the run's, by number."""
    X, labels = blobs()
    params = nn.init_params([20, 64, 3], rng=np.random.default_rng(0))
    params["b1"][:40] = -50.0
    history = nn.train(params, X, labels, epochs=2, lr=0.03)
    assert remedies(history, "dead units") == [{"lr": 0.003}, {"activation": "leaky_relu"}]


def scaled_blobs(n=3000, n_classes=3):
    """blobs() with each input scaled to mean 0, std 1, as the README asks of inputs."""
    X, labels = blobs(n=n, n_classes=n_classes)
    return (X - X.mean(axis=0)) / X.std(axis=0), labels


def train_blobs(sizes, n_classes=3, **settings):
    """A history of training sizes on 2,000 scaled blobs, validated on 1,000 more."""
    X, labels = scaled_blobs(n_classes=n_classes)
    params = nn.init_params(sizes, rng=np.random.default_rng(0),
                            init="glorot" if settings.get("activation") == "tanh" else "he")
    return nn.train(params, X[:2000], labels[:2000], X_val=X[2000:], targets_val=labels[2000:],
                    rng=1, **settings)


def test_a_layer_narrower_than_the_classes_is_named_and_widened():
    """Four hidden units for ten classes: the network cannot fit even its training data.
    The remedy widens that layer to a power of two of 4 units a class; sixteen units are
    not narrow."""
    history = train_blobs([20, 4, 10], n_classes=10, epochs=10, lr=0.003, optimizer="adam")
    found, = nn.diagnose(history)
    assert found["check"] == "layer too narrow" and "hidden layer 1 has 4 units" in found["seen"]
    assert found["remedies"][0]["set"] == {"sizes": [20, 64, 10]}
    history = train_blobs([20, 16, 10], n_classes=10, epochs=10, lr=0.003, optimizer="adam")
    assert "layer too narrow" not in checks(history)


def test_saturated_units_caused_by_a_rate_too_high_blame_the_rate():
    """tanh with Adam at 25x its rate: the weights grow 5x and the units saturate. The
    cause is the rate, so the one finding says so and its first remedy lowers the rate,
    sized from the update ratio; relu comes second, and vanishing gradients are not named."""
    history = train_blobs([20, 64, 64, 3], epochs=5, lr=0.05, optimizer="adam",
                          activation="tanh")
    found, = nn.diagnose(history)
    assert found["check"] == "learning rate too high" and "grew" in found["seen"]
    ratio = nn.epoch_one_ratio(history)
    assert remedies(history, "learning rate too high")[:2] == [
        {"lr": float(f"{0.05 * 3e-3 / ratio:.1g}")}, {"activation": "relu", "init": "he"}]


def test_a_rate_a_few_times_too_low_is_named_with_a_rate_that_reaches_the_healthy_ratio():
    """SGD at 1e-4: steps 8x under CS231n's 1e-3 and the loss far from fitted. The remedy
    multiplies the rate by 3e-3 / ratio; at 1e-2 (for 10 epochs) nothing is said."""
    history = train_blobs([20, 64, 3], epochs=5, lr=1e-4, momentum=0.0)
    found, = nn.diagnose(history)
    ratio = nn.epoch_one_ratio(history)
    assert found["check"] == "learning rate too low" and 1e-4 < ratio < 3e-4
    assert found["remedies"][0]["set"] == {"lr": float(f"{1e-4 * 3e-3 / ratio:.1g}")}
    assert checks(train_blobs([20, 64, 3], epochs=10, lr=1e-2, momentum=0.0)) == []


def test_too_few_steps_is_named_only_while_the_loss_still_falls():
    """Batches of 1,000 from 2,000 samples: 10 steps in 5 epochs, the loss still falling.
    Named as too little training, with the epochs that make 500 steps; in batches of 32
    (315 steps, the loss under a tenth of chance) nothing is said."""
    history = train_blobs([20, 64, 3], epochs=5, batch_size=1000, lr=0.01)
    assert checks(history) == ["too little training"]
    assert remedies(history, "too little training") == [{"epochs": 250}]
    assert checks(train_blobs([20, 64, 3], epochs=5, batch_size=32, lr=0.01)) == []
    seen = []                                  # 300 epochs planned, 5 done: a live page asks
    history = train_blobs([20, 64, 3], epochs=300, batch_size=1000, lr=0.01,
                          on_epoch=lambda record: seen.append(dict(record)),
                          should_stop=lambda: len(seen) == 5)
    assert history[-1]["stopped"] == "asked" and checks(history) == ["too little training"]
    assert "too little training" not in checks(seen)     # still going: 600 steps planned


def test_a_weight_decay_that_shrinks_the_weights_is_named():
    """Adam at 0.01 with weight_decay 3: each step shrinks the weights by 3%, and they end
    at a quarter of their start. The remedy: a decay 10x below a healthy step (1e-4 / lr);
    weight_decay 0.01 is left alone."""
    history = train_blobs([20, 64, 64, 3], epochs=10, lr=0.01, weight_decay=3, optimizer="adam")
    assert checks(history)[0] == "weight decay too strong"
    assert remedies(history, "weight decay too strong") == [{"weight_decay": 0.01},
                                                            {"weight_decay": 0}]
    history = train_blobs([20, 64, 64, 3], epochs=10, lr=0.01, weight_decay=0.01,
                          optimizer="adam")
    assert "weight decay too strong" not in checks(history)


def test_dropout_that_keeps_training_accuracy_far_below_validation_is_named():
    """Dropout 0.8: training accuracy (dropout on) 10 points and more below validation's.
    The remedy divides it by 3; dropout 0.3 is left alone."""
    history = train_blobs([20, 64, 64, 3], epochs=10, lr=0.003, dropout=0.8, optimizer="adam")
    assert checks(history) == ["dropout too strong"]
    assert remedies(history, "dropout too strong") == [{"dropout": 0.3}, {"dropout": 0}]
    history = train_blobs([20, 64, 64, 3], epochs=10, lr=0.003, dropout=0.3, optimizer="adam")
    assert checks(history) == []


def test_a_network_too_small_for_the_task_is_named_underfitting():
    """Three hidden units for a spiral: training and validation accuracy alike and low,
    the loss flat. The remedy doubles every hidden layer; 64 units fit it, and are told
    nothing."""
    X, labels = spiral()
    for hidden, named in ((3, True), (64, False)):
        params = nn.init_params([2, hidden, 3], rng=np.random.default_rng(0))
        history = nn.train(params, X[::2], labels[::2], epochs=30, lr=0.01, optimizer="adam",
                           X_val=X[1::2], targets_val=labels[1::2], rng=1)
        assert (checks(history) == ["underfitting"]) == named
        if named:
            assert remedies(history, "underfitting")[0] == {"sizes": [2, 6, 3]}
        else:
            assert checks(history) == []
    layers = [{"layer": 1, "update_ratio": 1e-3, "grad_rms": 1.0, "dead": 0.0, "saturated": None}]
    history = [{"epoch": e, "loss": 0.8, "train_accuracy": 0.95, "val_accuracy": 0.6,
                "val_loss": 1.0, "layers": layers, "chance_loss": math.log(3)} for e in (1, 2)]
    assert "underfitting" not in checks(history)     # fits training, not validation: no


def test_every_remedy_that_sets_a_value_is_one_train_or_init_params_accepts():
    """The doctor's "set" remedies on seven broken runs, each applied to a one-epoch run:
    no setting train() or init_params() would refuse, such as augment=True."""
    X, labels = scaled_blobs(n_classes=10)
    runs = [([20, 4, 10], {"lr": 0.003, "optimizer": "adam"}),
            ([20, 64, 10], {"lr": 0.05, "optimizer": "adam", "activation": "tanh"}),
            ([20, 64, 10], {"lr": 1e-4, "momentum": 0.0}),
            ([20, 64, 10], {"lr": 0.01, "batch_size": 1000}),
            ([20, 64, 10], {"lr": 0.01, "optimizer": "adam", "weight_decay": 3}),
            ([20, 64, 64, 10], {"lr": 0.003, "optimizer": "adam", "dropout": 0.8}),
            ([20, 256, 10], {"lr": 1e-3, "optimizer": "adam", "batch_size": 10, "epochs": 40})]
    tried = 0
    for sizes, settings in runs:
        n = 20 if "epochs" in settings else 2000
        settings = {"epochs": 5, **settings}
        history = nn.train(nn.init_params(sizes, rng=0), X[:n], labels[:n], X_val=X[2000:],
                           targets_val=labels[2000:], rng=1, **settings)
        for found in nn.diagnose(history):
            for remedy in found["remedies"]:
                if "set" in remedy:
                    changed = {**settings, "epochs": 1, **remedy["set"]}
                    init = {key: changed.pop(key) for key in ("sizes", "init") if key in changed}
                    params = nn.init_params(init.pop("sizes", sizes), rng=0, **init)
                    nn.train(params, X[:n], labels[:n], X_val=X[2000:], targets_val=labels[2000:],
                             **changed)
                    tried += 1
    assert tried >= 10


def noisy_line(n, seed, scale=1.0):
    """Regression data: y = x0 + noise (std 0.5) from 10 features, times scale."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 10)).astype(np.float32)
    return X, scale * (X[:, :1] + 0.5 * rng.standard_normal((n, 1))).astype(np.float32)


def test_a_regression_that_memorises_is_read_from_its_losses():
    """30 noisy samples and 128 x 128 units: the training loss falls to nothing while the
    validation loss turns back up. Memorising and past its best, with no accuracy to read;
    with 2,000 samples and a small network, nothing."""
    X, targets = noisy_line(30, 0)
    X_val, targets_val = noisy_line(300, 1)
    params = nn.init_params([10, 128, 128, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets, epochs=100, batch_size=10, lr=3e-3,
                       optimizer="adam", loss="mse", X_val=X_val, targets_val=targets_val, rng=1)
    assert {"memorising", "past its best"} <= set(checks(history))
    X, targets = noisy_line(2000, 0)
    params = nn.init_params([10, 32, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets, epochs=20, batch_size=32, lr=3e-3,
                       optimizer="adam", loss="mse", X_val=X_val, targets_val=targets_val, rng=1)
    assert checks(history) == []


def test_targets_far_from_unit_scale_are_named():
    """Targets in the hundreds (like scikit-learn's diabetes) get the advice to scale them."""
    X, targets = noisy_line(500, 0, scale=100)
    params = nn.init_params([10, 32, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets + 150, epochs=2, lr=1e-3, optimizer="adam",
                       loss="mse")
    assert "target scale" in checks(history)
    params = nn.init_params([10, 32, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets / 100, epochs=2, lr=1e-3, optimizer="adam",
                       loss="mse")
    assert "target scale" not in checks(history)


def test_worse_than_predicting_the_mean_is_named():
    """Targets that are pure noise: whatever the network learns from 30 of them makes
    new ones worse than their mean would."""
    X, _ = noisy_line(30, 0)
    targets = np.random.default_rng(2).standard_normal((30, 1)).astype(np.float32)
    X_val, _ = noisy_line(300, 1)
    targets_val = np.random.default_rng(3).standard_normal((300, 1)).astype(np.float32)
    params = nn.init_params([10, 128, 128, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets, epochs=50, batch_size=10, lr=3e-3,
                       optimizer="adam", loss="mse", X_val=X_val, targets_val=targets_val, rng=1)
    assert "worse than the mean" in checks(history)


def test_the_mean_to_beat_is_measured_on_the_validation_targets():
    """"Worse than the mean" compares the validation loss with the validation loss of
    always predicting the training targets' mean, not with the training targets' spread:
    training targets of std 3, validation targets of std 0.1 about the same mean."""
    X, _ = noisy_line(200, 0)
    rng = np.random.default_rng(4)
    targets = 3 * rng.standard_normal((200, 1)).astype(np.float32)
    X_val, _ = noisy_line(100, 1)
    targets_val = (targets.mean() + 0.1 * rng.standard_normal((100, 1))).astype(np.float32)
    params = nn.init_params([10, 16, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets / 3, epochs=3, lr=1e-3, optimizer="adam", loss="mse",
                       X_val=X_val, targets_val=targets_val / 3)
    baseline = float(np.mean((targets_val / 3 - (targets / 3).mean()) ** 2))
    assert history[0]["settings"]["baseline_loss"] == pytest.approx(baseline, rel=1e-5)
    assert history[-1]["val_loss"] > baseline and "worse than the mean" in checks(history)


def test_past_its_best_names_the_epoch_keep_best_would_keep():
    """keep_best keeps the epoch of the lowest validation loss, so the finding names that
    epoch too (here 2, though accuracy peaked in epoch 4), and so does its epochs remedy."""
    layers = [{"layer": 1, "update_ratio": 1e-3, "grad_rms": 1.0, "dead": 0.0, "saturated": None}]
    history = [{"epoch": e, "loss": 0.5 / e, "train_accuracy": 0.95, "val_accuracy": a,
                "val_loss": v, "layers": layers}
               for e, (a, v) in enumerate([(0.90, 0.40), (0.92, 0.30), (0.92, 0.32), (0.93, 0.35),
                                           (0.91, 0.40), (0.90, 0.45)], start=1)]
    found = nn.diagnose(history)[checks(history).index("past its best")]
    assert found["seen"].startswith("the validation loss was lowest in epoch 2, with accuracy 92.00%")
    assert remedies(history, "past its best") == [{"keep_best": True}, {"epochs": 2}]


def test_keep_best_ends_with_the_best_epochs_parameters():
    """The kept parameters are those of a run stopped by hand at the best epoch (constant
    rate, same seed: the same steps), and the history says which epoch that was."""
    X, targets = noisy_line(30, 0)
    X_val, targets_val = noisy_line(300, 1)
    settings = dict(batch_size=10, lr=3e-3, optimizer="adam", loss="mse", X_val=X_val,
                    targets_val=targets_val, rng=1)
    params = nn.init_params([10, 64, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets, epochs=40, keep_best=True, **settings)
    losses = [record["val_loss"] for record in history]
    kept = history[-1]["kept_epoch"]
    assert kept == int(np.argmin(losses)) + 1 < 40 and history[-1]["best_epoch"] == kept
    by_hand = nn.init_params([10, 64, 1], rng=np.random.default_rng(0))
    nn.train(by_hand, X, targets, epochs=kept, **settings)
    assert all(np.array_equal(params[key], by_hand[key]) for key in params)


def test_patience_stops_that_many_epochs_after_the_best():
    """patience=3: training ends 3 epochs after the lowest validation loss, and says so."""
    X, targets = noisy_line(30, 0)
    X_val, targets_val = noisy_line(300, 1)
    params = nn.init_params([10, 64, 1], rng=np.random.default_rng(0))
    history = nn.train(params, X, targets, epochs=200, batch_size=10, lr=3e-3,
                       optimizer="adam", loss="mse", X_val=X_val, targets_val=targets_val,
                       rng=1, patience=3)
    losses = [record["val_loss"] for record in history]
    assert len(history) < 200 and history[-1]["stopped"] == "patience"
    assert int(np.argmin(losses)) + 1 == len(history) - 3 == history[-1]["best_epoch"]
    assert all(min(losses[:i]) > losses[i] or i >= len(history) - 3
               for i in range(1, len(history)))


def test_keep_best_and_patience_need_validation_data():
    X, labels = blobs()
    params = nn.init_params([20, 8, 3], rng=np.random.default_rng(0))
    for setting in ({"keep_best": True}, {"patience": 2}):
        with pytest.raises(ValueError, match="X_val"):
            nn.train(params, X, labels, epochs=1, **setting)
    with pytest.raises(ValueError, match="patience"):
        nn.train(params, X, labels, epochs=1, X_val=X, targets_val=labels, patience=0)


def test_sanity_check_passes_a_correct_network_and_leaves_it_untouched():
    """A correct setup passes all four checks, and the checks work on copies."""
    X, labels = blobs()
    params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0))
    before = {key: value.copy() for key, value in params.items()}
    results = nn.sanity_check(params, X, labels, activation="relu")
    assert [r["check"] for r in results] == ["loss at start", "overfit", "uses inputs", "gradients"]
    assert all(r["passed"] for r in results), results
    assert all(np.array_equal(before[key], params[key]) for key in params)


def test_sanity_check_learns_with_the_runs_own_optimizer_and_says_which():
    """The overfit check takes the optimizer, rate and momentum the run will use, and says
    them: SGD at 1e-5 learns nothing in 150 steps, so it fails with a rate 10x higher as
    its first remedy, where Adam at 1e-3 passes."""
    X, labels = scaled_blobs()
    params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0))
    results = {r["check"]: r for r in nn.sanity_check(params, X, labels, activation="relu",
                                                      optimizer="sgd", lr=1e-5)}
    assert not results["overfit"]["passed"] and "steps of sgd at lr 1e-05" in results["overfit"]["seen"]
    assert results["overfit"]["remedies"][0]["set"] == {"lr": 0.0001}
    results = {r["check"]: r for r in nn.sanity_check(params, X, labels, activation="relu",
                                                      lr=1e-3)}
    assert results["overfit"]["passed"] and "of adam at lr 0.001" in results["overfit"]["seen"]


def test_sanity_check_catches_a_gradient_that_never_reaches_the_first_layer(monkeypatch):
    """A backward that forgets layer 1 fails the gradient check, however well the rest learns."""
    X, labels = blobs()
    params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0))
    real_backward = nn.backward

    def broken_backward(params, cache, dlogits):
        grads = real_backward(params, cache, dlogits)
        grads["W1"] = np.zeros_like(grads["W1"])
        grads["b1"] = np.zeros_like(grads["b1"])
        return grads
    monkeypatch.setattr(nn, "backward", broken_backward)
    results = {r["check"]: r for r in nn.sanity_check(params, X, labels, activation="relu")}
    assert not results["gradients"]["passed"] and "backward()" in results["gradients"]["cause"]
    assert results["gradients"]["remedies"]


def test_vanishing_gradients_are_no_failure_of_the_gradient_check():
    """Ten sigmoid layers: the first layers' gradients are too small for central
    differences to measure (rounding is all they would see), so the check judges them
    against that rounding, passes, and says why they are so small."""
    X, labels = blobs()
    params = nn.init_params([20] + [16] * 10 + [3], rng=np.random.default_rng(0), init="glorot")
    results = {r["check"]: r for r in nn.sanity_check(params, X, labels, activation="sigmoid")}
    assert results["gradients"]["passed"] and "vanishing" in results["gradients"]["seen"]
    assert "cause" not in results["gradients"]


def test_sanity_check_catches_a_network_that_ignores_its_inputs(monkeypatch):
    """A network that cannot see X does no better than one fed zeros, and cannot overfit."""
    X, labels = blobs()
    params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0))
    real_forward = nn.forward
    monkeypatch.setattr(nn, "forward", lambda params, X, *args, **kwargs:
                        real_forward(params, np.zeros_like(X), *args, **kwargs))
    results = {r["check"]: r for r in nn.sanity_check(params, X, labels, activation="relu")}
    assert not results["uses inputs"]["passed"] and not results["overfit"]["passed"]


def test_find_lr_suggests_a_rate_that_trains_and_leaves_params_untouched():
    """The range test's suggestion trains a spiral, and the caller's params stay as they were."""
    X, labels = spiral()
    params = nn.init_params([2, 64, 64, 3], rng=np.random.default_rng(0))
    before = {key: value.copy() for key, value in params.items()}
    found = nn.find_lr(params, X, labels, activation="relu", optimizer="sgd", batch_size=32,
                       steps=100, rng=1)
    assert all(np.array_equal(before[key], params[key]) for key in params)
    assert len(found["lrs"]) == len(found["losses"]) > 10
    assert 1e-4 < found["suggestion"] < 10
    nn.train(params, X, labels, epochs=100, batch_size=32, lr=found["suggestion"], rng=1)
    assert nn.accuracy(labels, nn.predict(params, X, "relu")) >= 0.9


def test_find_lr_says_when_the_loss_never_falls():
    """A network that cannot learn (its inputs all 0, its labels at random) gives a flat
    curve: no minimum, so no rate is suggested rather than one read from noise."""
    labels = np.random.default_rng(0).integers(0, 3, 600)
    params = nn.init_params([20, 32, 3], rng=np.random.default_rng(0))
    found = nn.find_lr(params, np.zeros((600, 20), np.float32), labels, activation="relu",
                       optimizer="adam", rng=1)
    assert found["suggestion"] is None and len(found["losses"]) > 10


def test_divergence_blames_unscaled_targets_when_they_are_the_cause():
    """Regression targets near 1e4 blow SGD up; the error names the targets and how to scale
    them, not the inputs."""
    X, targets = noisy_line(200, 0, scale=1e4)
    params = nn.init_params([10, 16, 1], rng=np.random.default_rng(0))
    with pytest.raises(FloatingPointError, match="targets have mean .* scale them"):
        nn.train(params, X, targets + 3e4, epochs=5, lr=0.1, loss="mse")


def test_find_lrs_own_rate_raises_no_alarm():
    """One rule for the learning rate: training at find_lr's suggestion, with the optimizer
    it was measured for, is never told the rate is too high; and it learns."""
    for n, n_features in ((3000, 20), (300, 13)):      # the second, sized like wine's
        X, labels = blobs(n=n, n_features=n_features)
        train = n * 3 // 4
        for optimizer in ("sgd", "adam"):
            params = nn.init_params([n_features, 64, 64, 3], rng=np.random.default_rng(0))
            lr = nn.find_lr(params, X[:train], labels[:train], activation="relu",
                            optimizer=optimizer, batch_size=32, rng=1)["suggestion"]
            history = nn.train(params, X[:train], labels[:train], epochs=5, lr=lr,
                               batch_size=32, optimizer=optimizer, X_val=X[train:],
                               targets_val=labels[train:], rng=1)
            assert "learning rate too high" not in checks(history), (optimizer, lr)
            assert history[-1]["val_accuracy"] > (0.95 if n == 3000 else 0.8)


def test_find_lr_steps_with_the_momentum_train_will_use(monkeypatch):
    """find_lr takes its steps as train() would: SGD's momentum 0.9 by default or the one
    given, Adam's beta1 likewise."""
    X, labels = blobs()
    params = nn.init_params([20, 16, 3], rng=np.random.default_rng(0))
    seen = []
    for name, step in list(nn.OPTIMIZERS.items()):
        def spy(params, grads, state, lr, step=step, **settings):
            seen.append(settings)
            return step(params, grads, state, lr, **settings)
        monkeypatch.setitem(nn.OPTIMIZERS, name, spy)
    for optimizer, given, expected in (
            ("sgd", {}, {"momentum": 0.9, "nesterov": False}),
            ("sgd", {"momentum": 0.5}, {"momentum": 0.5, "nesterov": False}),
            ("adam", {"beta1": 0.8}, {"beta1": 0.8}), ("adam", {}, {"beta1": 0.9})):
        seen.clear()
        nn.find_lr(params, X, labels, activation="relu", optimizer=optimizer, steps=5, rng=1,
                   **given)
        assert seen and all(s == expected for s in seen)


# ================================================================ plumbing
# The second half checks what surrounds the network: bad input refused with a clear
# message, saving and loading, and everything mnist.py does, on files the tests make
# (small IDX files, served from a folder or from a web server on 127.0.0.1). Nothing here
# reaches the internet or ../shared.


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("change, error, message", [
    (lambda p, X, y: (p, X[:, :3], y, {}), ValueError, r"X must be \(N, 4\)"),
    (lambda p, X, y: (p, X, y[:5], {}), ValueError, r"6 samples but its targets have shape \(5,\)"),
    (lambda p, X, y: (p, X, y + 1, {}), ValueError, r"labels must lie in \[0, 3\)"),
    (lambda p, X, y: (p, X, y - 1, {}), ValueError, r"labels must lie in \[0, 3\)"),
    (lambda p, X, y: (p, X, y + 0.5, {}), TypeError, "must be integers"),
    (lambda p, X, y: (p, np.where(X > 1, np.nan, X), y, {}), ValueError, "NaN or infinite"),
    (lambda p, X, y: (p, X, y, {"activation": "swish"}), ValueError, "unknown activation"),
    (lambda p, X, y: (p, X, y, {"optimizer": "rmsprop"}), ValueError, "unknown optimizer"),
    (lambda p, X, y: (p, X, y, {"loss": "hinge"}), ValueError, "unknown loss"),
    (lambda p, X, y: (p, X, y, {"schedule": "step"}), ValueError, "unknown schedule"),
    (lambda p, X, y: (p, X, y, {"batch_size": 0}), ValueError, "batch_size must be"),
    (lambda p, X, y: (p, X, y, {"epochs": -1}), ValueError, "epochs must be"),
    (lambda p, X, y: (p, X, y, {"lr": -0.1}), ValueError, "lr must be a finite number > 0"),
    (lambda p, X, y: (p, X, y, {"dropout": 1.0}), ValueError, "dropout must be in"),
    (lambda p, X, y: (p, X, y, {"weight_decay": -0.1}), ValueError, "weight_decay must be in"),
    (lambda p, X, y: (p, X, y, {"loss": "mse"}), ValueError, "targets have shape"),
    (lambda p, X, y: (p, X, y, {"X_val": X, "targets_val": y[:2]}), ValueError, "validation"),
])
def test_train_rejects_bad_input_with_a_clear_message(small, change, error, message):
    """Each kind of bad input to train() gets an error that says what was wrong."""
    params, X, targets, options = change(*small)
    with pytest.raises(error, match=message):
        nn.train(params, X, targets, **{"epochs": 1, **options})


@pytest.mark.parametrize("labels, fix", [
    (np.array([1, 2, 3, 1, 2, 3]), r"from 1 to C: pass labels - 1"),
    (np.array([0., 1., 2., 0., 1., 2.]), r"whole numbers: pass labels.astype\(int\)"),
    (np.eye(3)[[0, 1, 2, 0, 1, 2]], r"one-hot .* labels.argmax\(axis=1\)"),
    (np.array([[0], [1], [2], [0], [1], [2]]), r"a column: pass labels.ravel\(\)"),
    (np.array([True, False] * 3), r"labels.astype\(int\)"),
    (np.array(["cat", "dog", "owl"] * 2), r"np.unique\(y, return_inverse=True\)"),
    (np.array([10, 20, 30] * 2), r"np.unique\(y, return_inverse=True\)"),
    (np.array([0.3, 1.7, 2.2] * 2), r"values to predict \(regression\), pass loss='mse'"),
])
def test_labels_in_a_common_wrong_form_get_an_error_that_says_the_fix(small, labels, fix):
    """1-based, floats of whole numbers, one-hot, a column, booleans, strings, other
    numbers: each refused with the line of code that makes them 0 .. C-1."""
    params, X, _ = small
    with pytest.raises((ValueError, TypeError), match=fix):
        nn.train(params, X, labels)


def test_other_functions_reject_bad_input(small):
    """The same for the other entry points."""
    params, X, labels = small
    with pytest.raises(ValueError, match=r"sizes must be"):
        nn.init_params([784, 0, 10])
    with pytest.raises(ValueError, match=r"unknown init"):
        nn.init_params([2, 2], init="uniform")
    with pytest.raises(ValueError, match=r"X must be \(N, 4\)"):
        nn.forward(params, X[0], "relu")
    with pytest.raises(ValueError, match="NaN"):
        nn.predict(params, np.full((2, 4), np.inf), "relu")
    with pytest.raises(ValueError, match="one output"):
        nn.binary_cross_entropy(np.zeros((3, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        nn.binary_cross_entropy(np.zeros((3, 1)), [0, 2, 1])
    with pytest.raises(ValueError, match="expected 6 labels"):
        nn.softmax_cross_entropy(np.zeros((6, 3)), labels.reshape(2, 3))
    with pytest.raises(ValueError, match="dropout needs rng"):
        nn.forward(params, X, "relu", dropout=0.5)
    with pytest.raises(ValueError, match="differ"):
        nn.accuracy(labels, labels[:3])


def without(params, key):
    return {k: v for k, v in params.items() if k != key}


def replaced(params, key, value):
    return dict(params, **{key: value})


def nan_in(params, key):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    grads[key] = grads[key].copy()
    grads[key].flat[0] = np.nan
    return grads


HEART_MISUSES = [
    ("forward, no b2", lambda p, X: nn.forward(without(p, "b2"), X, "relu"),
     ValueError, r"missing \['b2'\]"),
    ("forward, b1 (1,)", lambda p, X: nn.forward(replaced(p, "b1", np.zeros(1, np.float32)), X,
                                                 "relu"), ValueError, "b1 .* do not fit"),
    ("forward, b2 batch-sized", lambda p, X: nn.forward(replaced(p, "b2", np.zeros(6, np.float32)),
                                                        X, "relu"), ValueError, "do not fit"),
    ("forward, unknown activation", lambda p, X: nn.forward(p, X, "relux"), ValueError,
     "unknown activation 'relux'; choose one of relu, leaky_relu, sigmoid, tanh"),
    ("forward, empty batch", lambda p, X: nn.forward(p, X[:0], "relu"), ValueError, "empty batch"),
    ("forward, complex X", lambda p, X: nn.forward(p, X + 1j, "relu"), TypeError, "real numbers"),
    ("loss, complex logits", lambda p, X: nn.softmax_cross_entropy(np.ones((2, 3)) * 1j, [0, 1]),
     TypeError, "real numbers"),
    ("loss, empty batch", lambda p, X: nn.softmax_cross_entropy(np.ones((0, 3)), []),
     ValueError, "N >= 1"),
    ("mse, empty batch", lambda p, X: nn.mean_squared_error(np.ones((0, 1)), []),
     ValueError, "N >= 1"),
    ("accuracy, empty", lambda p, X: nn.accuracy([], []), ValueError, "empty"),
    ("sgd, lr NaN", lambda p, X: nn.sgd_step(p, p, {}, np.nan),
     ValueError, "lr must be a finite number > 0"),
    ("sgd, lr -1", lambda p, X: nn.sgd_step(p, p, {}, -1), ValueError, "lr must be"),
    ("sgd, momentum 1.5", lambda p, X: nn.sgd_step(p, p, {}, 0.1, momentum=1.5), ValueError,
     r"momentum must be in \[0, 1\)"),
    ("sgd, NaN in W1", lambda p, X: nn.sgd_step(p, nan_in(p, "W1"), {}, 0.1), ValueError,
     r"grads\['W1'\] holds NaN"),
    ("sgd, weight_decay 1/lr", lambda p, X: nn.sgd_step(p, p, {}, 0.1, weight_decay=10),
     ValueError, r"weight_decay must be in \[0, 1/lr\)"),
    ("adam, eps 0", lambda p, X: nn.adam_step(p, p, {}, 0.1, eps=0), ValueError,
     "eps must be a finite number > 0"),
    ("adam, NaN in b2 later", lambda p, X: nn.adam_step(p, nan_in(p, "b2"), {"t": 5}, 0.1),
     ValueError, r"grads\['b2'\] holds NaN"),
    ("adam, a key missing", lambda p, X: nn.adam_step(p, without(p, "W2"), {}, 0.1),
     ValueError, "grads must have the keys of params"),
    ("adam, wrong shape", lambda p, X: nn.adam_step(p, replaced(p, "W1", p["W1"].T), {}, 0.1),
     ValueError, r"grads\['W1'\] must be an array of W1's shape"),
]


@pytest.mark.parametrize("name, call, error, message", HEART_MISUSES,
                         ids=[case[0] for case in HEART_MISUSES])
def test_the_hearts_functions_refuse_nonsense_when_called_directly(small, name, call, error,
                                                                   message):
    """forward, the losses, accuracy and the optimizers, called by hand as a reader of
    nn.py will call them, refuse what would give a wrong answer, saying what is wrong."""
    params, X, labels = small
    params = {key: value.copy() for key, value in params.items()}
    before = {key: value.copy() for key, value in params.items()}
    with pytest.raises(error, match=message):
        call(params, X)
    for key in params:                                  # nothing was changed on the way
        np.testing.assert_array_equal(params[key], before[key])


def test_the_hearts_functions_give_the_right_answer_to_plain_python_input(small):
    """A list is an array, in forward and in backward alike; integer outputs are squared
    in floats, not integers; booleans are 0/1 targets; float16 logits far beyond float16's
    largest sum are summed in float32, not into infinity."""
    params, X, labels = small
    logits, cache = nn.forward(params, X.tolist(), "relu")
    np.testing.assert_allclose(logits, nn.forward(params, X, "relu")[0], atol=1e-5)
    dlogits = nn.softmax_cross_entropy(logits, labels)[1]
    grads, from_list = nn.backward(params, cache, dlogits), nn.backward(params, cache, dlogits.tolist())
    assert all(np.allclose(grads[key], from_list[key]) for key in grads)
    loss, doutputs = nn.mean_squared_error(np.array([[0], [1]]), [0.5, 0.5])
    assert loss == 0.25 and doutputs.tolist() == [[-0.5], [0.5]]
    flags = np.array([True, False, True])
    assert nn.binary_cross_entropy(np.ones((3, 1)), flags)[0] == \
        nn.binary_cross_entropy(np.ones((3, 1)), flags.astype(float))[0]
    huge = np.array([[6e4], [-6e4], [6e4]], dtype=np.float16)
    with np.errstate(**STRICT):
        assert np.isfinite(nn.binary_cross_entropy(huge, [0, 1, 0])[0])
        assert np.isfinite(nn.softmax_cross_entropy(np.hstack([huge, -huge]), [1, 0, 1])[0])


def test_targets_of_the_wrong_shape_are_refused_not_broadcast():
    """32 targets of 2 columns for 64 one-output logits hold 64 numbers, yet are no
    targets for them; nor do 64 targets of 2 columns fit one output."""
    for targets in (np.zeros((32, 2)), np.zeros((64, 2)), np.zeros(63)):
        with pytest.raises(ValueError, match="have shape"):
            nn.binary_cross_entropy(np.zeros((64, 1)), targets)
    with pytest.raises(ValueError, match="have shape"):
        nn.mean_squared_error(np.zeros((64, 2)), np.zeros((32, 4)))


def test_params_with_a_missing_or_extra_key_are_refused_by_name(small, tmp_path):
    """params with a key missing or extra are refused by name, never run as a smaller net."""
    params, X, labels = small
    broken = {key: value for key, value in params.items() if key != "b2"}
    for call in (lambda: nn.train(broken, X, labels, epochs=1),
                 lambda: nn.predict(broken, X, "relu"),
                 lambda: nn.save(tmp_path / "m.npz", broken, "relu"),
                 lambda: nn.gradient_check(broken, X, labels, activation="relu"),
                 lambda: nn.sanity_check(broken, X, labels, activation="relu")):
        with pytest.raises(ValueError, match=r"missing \['b2'\]"):
            call()
    with pytest.raises(ValueError, match=r"unexpected \['c1'\]"):
        nn.predict({**params, "c1": params["b1"]}, X, "relu")
    with pytest.raises(ValueError, match="does not follow W1"):
        nn.predict({**params, "W2": np.ones((4, 3), np.float32)}, X, "relu")
    with pytest.raises(ValueError, match="NaN or infinity"):
        nn.predict({**params, "b1": np.full(5, np.nan, np.float32)}, X, "relu")
    assert not list(tmp_path.iterdir())


def test_the_activation_must_be_named_wherever_the_network_runs(small):
    """Every function that runs the network must be told its activation: none guesses it."""
    params, X, labels = small
    for call in (lambda: nn.predict(params, X), lambda: nn.forward(params, X),
                 lambda: nn.outputs(params, X), lambda: nn.evaluate(params, X, labels),
                 lambda: nn.gradient_check(params, X, labels)):
        with pytest.raises(TypeError, match="activation"):
            call()


def test_settings_that_would_do_nothing_or_crash_are_refused(small):
    """Settings that would be silently ignored, or crash deep inside, are refused at the door."""
    params, X, labels = small
    with pytest.raises(ValueError, match="momentum and nesterov are SGD's"):
        nn.train(params, X, labels, optimizer="adam", nesterov=True)
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        nn.train(params, X, labels, epochs=True)
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.train(params, X, labels, momentum=1.0)
    with pytest.raises(ValueError, match="beta1 must be in"):
        nn.adam_step(params, params, {}, 0.1, beta1=1.0)
    with pytest.raises(ValueError, match="without its targets"):
        nn.train(params, X, labels, X_val=X)
    with pytest.raises(ValueError, match="batch_size must be"):
        nn.predict(params, X, "relu", batch_size=-5)
    with pytest.raises(ValueError, match="batch_size must be"):
        nn.predict(params, X, "relu", batch_size=0)
    with pytest.raises(TypeError, match="real numbers"):
        nn.predict(params, X + 1j, "relu")
    for dtype in (np.int32, np.complex64, np.bool_, str):
        with pytest.raises(TypeError, match="real floating"):
            nn.init_params([2, 3], dtype=dtype)
    with pytest.raises(TypeError, match="np.random.Generator"):
        nn.train(params, X, labels, rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="binary_cross_entropy.*or predicts a value, loss='mse'"):
        nn.train(nn.init_params([4, 1]), X, labels % 1 + 1)


# ---------------------------------------------------------------- saving

def test_save_and_load_give_identical_predictions(tmp_path, monkeypatch):
    """A saved model carries its sizes, activation and info: load() alone rebuilds it exactly,
    and nothing but model.npz is left behind; a file that does not read back as written
    never replaces it."""
    X, labels = spiral()
    params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
    nn.train(params, X, labels, epochs=2, activation="tanh")
    path = tmp_path / "model.npz"
    nn.save(path, params, activation="tanh", seed=3, note="spiral", digests=["a", "b"])
    loaded, info = nn.load(path)
    assert info == {"sizes": [2, 16, 3], "activation": "tanh", "seed": 3, "note": "spiral",
                    "digests": ["a", "b"]}
    for key in params:
        assert np.array_equal(loaded[key], params[key]) and loaded[key].dtype == np.float32
    np.testing.assert_array_equal(nn.predict(loaded, X, info["activation"]),
                                  nn.predict(params, X, "tanh"))
    with np.load(path, allow_pickle=False) as data:
        assert "W1" in data.files
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    with monkeypatch.context() as patch, pytest.raises(OSError, match="did not read back"):
        patch.setattr(nn, "load", lambda file: ({key: value + 1 for key, value in
                                                 params.items()}, {}))   # a bad write
        nn.save(path, params, "tanh")
    assert np.array_equal(nn.load(path)[0]["W1"], params["W1"])   # the old model stays
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_save_refuses_what_would_need_pickle(tmp_path):
    """Models load with allow_pickle=False, so save() refuses info that would need pickle."""
    params = nn.init_params([2, 3])
    with pytest.raises(TypeError, match="without pickle"):
        nn.save(tmp_path / "model.npz", params, "relu", settings={"lr": 0.1})
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_files_that_are_not_models(tmp_path):
    """A zip that is not a model, an npz without a model's arrays, a missing file: each a clear
    error."""
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 this is not a zip file")
    with pytest.raises(ValueError, match="not a model"):
        nn.load(junk)
    arrays_only = tmp_path / "arrays.npz"
    np.savez(arrays_only, W1=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not a model"):
        nn.load(arrays_only)
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing.npz")


def test_save_uses_a_unique_temporary_file_and_leaves_a_planted_link_alone(tmp_path):
    """save() writes a new file of a unique name beside path: a link planted at a fixed
    temporary name is never followed."""
    params = nn.init_params([2, 3])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "model.npz"
    os.symlink(victim, str(path) + ".partial")
    nn.save(path, params, "relu")
    assert victim.read_text() == "precious" and os.path.islink(str(path) + ".partial")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "model.npz.partial",
                                                          "victim.txt"]
    with pytest.raises(ValueError, match="reserved"):
        nn.save(path, params, "relu", sizes=[9, 9])


def test_two_processes_saving_to_one_path_never_leave_a_broken_file(tmp_path):
    """Two processes saving to one path, 40 times each: a reader never finds a half-written file."""
    path = tmp_path / "model.npz"
    writer = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import nn\n"
              "params = nn.init_params([30, 40, 10], rng=int(sys.argv[3]))\n"
              "for _ in range(40): nn.save(sys.argv[2], params, 'relu')\n")
    here = os.path.dirname(os.path.abspath(__file__))
    writers = [subprocess.Popen([sys.executable, "-c", writer, here, str(path), str(seed)])
               for seed in (1, 2)]
    loads = 0
    while any(w.poll() is None for w in writers) or loads == 0:
        if path.exists():
            params, info = nn.load(path)         # raises if the file were ever half written
            assert info["sizes"] == [30, 40, 10]
            loads += 1
    assert all(w.wait() == 0 for w in writers)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def malformed_model(path, change):
    """Save a good little model, then rewrite it with `change` applied to its arrays."""
    nn.save(path, nn.init_params([3, 4, 2]), "relu")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    np.savez(path, **arrays)


def test_a_file_that_is_no_model_is_called_what_it_looks_like(tmp_path):
    """Text, a single array, any other bytes: each is said to be no model, and what it
    looks like; never NumPy's advice to load it unsafely."""
    (tmp_path / "README.md").write_text("# nn.py: a neural network\n")
    np.save(tmp_path / "array.npy", np.zeros(3, dtype=object), allow_pickle=True)
    (tmp_path / "noise.bin").write_bytes(bytes(range(200, 256)))
    for name, looks in (("README.md", "text ('# nn.py"), ("array.npy", "a single array"),
                        ("noise.bin", "binary data")):
        with pytest.raises(ValueError) as error:
            nn.load(tmp_path / name)
        assert "is not a model saved by nn.save()" in str(error.value)
        assert looks in str(error.value) and "pickle" not in str(error.value)


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(sizes=np.array(3)), "sizes"),
    (lambda a: a.update(sizes=np.array([3])), "sizes"),
    (lambda a: a.update(sizes=np.array([[3, 4, 2]])), "sizes"),
    (lambda a: a.update(W1=np.full((3, 4), "x")), "not real floats"),
    (lambda a: a.update(W1=a["W1"] * np.nan), "NaN or infinity"),
    (lambda a: a.update(W1=a["W1"] + 1j), "not real floats"),
    (lambda a: a.update(b1=np.zeros(1, np.float32)), r"shape \(4,\)"),
    (lambda a: a.update(activation=np.array("swish")), "unknown activation"),
    (lambda a: a.update(W2=np.zeros((2000, 2000), np.float32)), "unpacks to 16,000,128 bytes"),
    (lambda a: a.update(info_note=np.zeros(400_000)), "unpacks to"),
    (lambda a: a.pop("b2"), "has no 'b2'"),
])
def test_load_refuses_malformed_models_naming_the_file(tmp_path, change, message):
    """A damaged or hostile model file is refused with its name and the reason, before it can
    be evaluated at chance or make us allocate gigabytes."""
    path = tmp_path / "bad.npz"
    malformed_model(path, change)
    with pytest.raises(ValueError, match=message) as error:
        nn.load(path)
    assert str(path) in str(error.value)


def test_a_model_saved_big_endian_loads_in_the_machines_own_order(tmp_path):
    """A model whose arrays another machine wrote big-endian loads, converted, and predicts
    what the original does."""
    params = nn.init_params([3, 4, 2], rng=np.random.default_rng(0))
    nn.save(tmp_path / "little.npz", params, "relu", dataset="mnist", stopped_early=False,
            val_accuracy=0.5, history="[]", judge_W1=np.ones((784, 2), np.float32))
    with np.load(tmp_path / "little.npz") as little:                # every array swapped
        np.savez(tmp_path / "big.npz", **{key: little[key].astype(little[key].dtype.newbyteorder(">"))
                                          for key in little.files})
    loaded, info = nn.load(tmp_path / "big.npz")
    assert all(array.dtype == np.float32 for array in loaded.values())
    assert info["dataset"] == "mnist" and info["stopped_early"] is False
    assert np.array(info["judge_W1"], np.float32).shape == (784, 2)
    X = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_array_equal(nn.outputs(loaded, X, "relu"), nn.outputs(params, X, "relu"))


def test_load_reads_only_the_arrays_a_model_has(tmp_path):
    """Arrays a model does not have are not read; a single .npy is no model."""
    path = tmp_path / "extra.npz"
    malformed_model(path, lambda a: a.update(junk=np.zeros(10)))
    params, info = nn.load(path)
    assert sorted(params) == ["W1", "W2", "b1", "b2"] and "junk" not in info
    one_array = tmp_path / "one.npy"
    np.save(one_array, np.zeros(3))
    with pytest.raises(ValueError, match="not a model saved by nn.save"):
        nn.load(one_array)


def test_dropout_too_strong_is_named_with_less_dropout_as_its_remedy():
    """Validation accuracy below training's, though training's is measured with dropout on
    and its loss is far from a fit: dropout changes each layer's input too much between
    training and use (the README's ten-layer run, whose figures these are). Named, with
    less dropout as the remedy; with the accuracies the other way round, not named."""
    layers = [{"layer": 1, "update_ratio": 1e-3, "grad_rms": 1.0, "dead": 0.0,
               "saturated": None}]
    for train_accuracy, named in ((0.262, True), (0.08, False)):
        history = [{"epoch": 1, "loss": 2.2, "train_accuracy": 0.15, "val_accuracy": 0.11,
                    "val_loss": 2.25, "layers": layers, "initial_loss": 2.35,
                    "chance_loss": math.log(10), "settings": {"dropout": 0.3, "lr": 0.05}},
                   {"epoch": 2, "loss": 1.77, "train_accuracy": train_accuracy,
                    "val_accuracy": 0.12, "val_loss": 2.2, "layers": layers}]
        assert ("dropout too strong" in checks(history)) == named
        if named:
            assert remedies(history, "dropout too strong") == [{"dropout": 0}, {"dropout": 0.1}]


# ---------------------------------------------------------------- mnist.py: data and command line

def idx_bytes(array):
    """Encode a uint8 array in the IDX format: 0, 0, type 0x08, ndim, big-endian dims, data."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def mirror_folder(folder, files):
    """Write each {name: raw bytes} as name.gz into folder; return its file:// URL."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
    return folder.resolve().as_uri() + "/"


def tiny_dataset(tmp_path, monkeypatch, n_train=300, n_test=100):
    """Replace MNIST by a tiny learnable stand-in (each class a bright stripe), served from
    a folder; return the folder's URL."""
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label + 4: 2 * label + 6, 4:24] = 255
        files[f"{split}-images-idx3-ubyte"] = idx_bytes(images)
        files[f"{split}-labels-idx1-ubyte"] = idx_bytes(labels)
    monkeypatch.setattr(mnist, "FILES", {name: len(raw) for name, raw in files.items()})
    spec = dict(mnist.DATASETS["mnist"], mirrors=[],
                sha256={name: hashlib.sha256(raw).hexdigest() for name, raw in files.items()})
    monkeypatch.setitem(mnist.DATASETS, "mnist", spec)
    return mirror_folder(tmp_path / "mirror", files)


@pytest.fixture
def tiny_run(tmp_path, monkeypatch, capsys):
    """mnist.py on the tiny data set: tiny_run(*flags) runs it with --mirror and --data-dir
    set and one epoch of an 8-unit network (flags given win; a saved network's judge
    learns from 12 numbers), and returns (exit status, stdout, stderr)."""
    mirror = tiny_dataset(tmp_path, monkeypatch)
    monkeypatch.setattr(judge, "JUDGE_NUMBERS", 12)             # the reader's judge: small

    def run(*flags):
        capsys.readouterr()
        status = mnist.run(["--mirror", mirror, "--data-dir", str(tmp_path / "data"),
                            "--epochs", "1", "--hidden", "8", "--val-size", "50",
                            *map(str, flags)])
        out, err = capsys.readouterr()
        return status, out, err
    return run


def test_idx_round_trip():
    """read_idx reads back exactly what the IDX format's layout says was written."""
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(fetch.read_idx(idx_bytes(images), "images"), images)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(fetch.read_idx(idx_bytes(labels), "labels"), labels)


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-1], "truncated or corrupt"),
    (lambda raw: raw + b"\x00", "truncated or corrupt"),
    (lambda raw: b"\x01\x02" + raw[2:], "bad magic number"),
    (lambda raw: raw[:2] + b"\x0d" + raw[3:], "type code 0x0d"),
    (lambda raw: raw[:6], "header is truncated"),
    (lambda raw: gzip.compress(raw), "still gzip-compressed"),
])
def test_read_idx_rejects_damaged_files_naming_them(damage, message):
    """Each kind of damaged IDX file gets an error naming the file; a gzip file read as IDX
    is recognised as such (a classic source of 'wrong shape' reports)."""
    raw = idx_bytes(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=message) as error:
        fetch.read_idx(damage(raw), "t10k-images-idx3-ubyte")
    assert "t10k-images-idx3-ubyte" in str(error.value)


def test_main_trains_reports_saves_and_loads(tmp_path, tiny_run):
    """The whole program: train, report, save, then --load reports the same accuracy."""
    model = tmp_path / "model.npz"
    status, out, _ = tiny_run("--epochs", 3, "--hidden", 32, "--batch-size", 10,
                              "--augment", "none", "--save", model)
    assert status == 0
    assert [line[:9] for line in out.splitlines() if line.startswith("epoch ")] == \
        ["epoch   1", "epoch   2", "epoch   3"] and "img/s" in out
    assert "confusion matrix" in out and "precision" in out
    trained = float(out.split("test accuracy ")[1].split("%")[0])
    assert trained > 90
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == \
        sorted([*mnist.FILES, judge.JUDGE_FILE])          # the data, and the judge kept with it
    params, info = nn.load(model)
    assert info["sizes"] == [784, 32, 10] and info["dataset"] == "mnist" and info["seed"] == 0
    assert info["epochs_completed"] == 3 and len(info["data_sha256"]) == 4
    assert info["test_accuracy"] == pytest.approx(trained / 100, abs=1e-4)

    status, out, _ = tiny_run("--load", model, "--show", 2)
    assert status == 0 and f"test accuracy {trained:.2f}%" in out and "epoch" not in out


def test_offline_the_error_says_why_and_how_to_fix_it_in_a_few_lines(tmp_path, monkeypatch,
                                                                       capsys):
    """With no network and no data: at most 8 lines, naming the missing files, the cause
    (the mirrors' names did not resolve), --mirror and the folder to put the files in."""
    def no_network(request, timeout):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    monkeypatch.setattr(fetch.OPENER, "open", no_network)
    assert mnist.run(["--data-dir", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) <= 8, err
    assert err.startswith("mnist.py: error: could not get 4 of the 4 files: "
                          "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                          "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte\n")
    assert "no network: the mirrors' host names did not resolve" in err
    assert "Traceback" not in err and "--mirror" in err and "put " in err
    assert str(tmp_path / "data" / "mnist") in err


def test_other_failures_are_named_by_mirror(tmp_path, monkeypatch, capsys):
    """A mirror that answers with an error is named with what it said, one line each."""
    def not_found(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)
    monkeypatch.setattr(fetch.OPENER, "open", not_found)
    assert mnist.run(["--data-dir", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) <= 8, err
    for mirror in mnist.DATASETS["mnist"]["mirrors"]:
        assert f"  {mirror}: HTTP 404 Not Found\n" in err


@pytest.mark.parametrize("flags", [["--epochs", "-1"], ["--hidden", "0"], ["--hidden", "64,x"],
                                   ["--activation", "swish"], ["--lr", "0"],
                                   ["--dropout", "1"], ["--batch-size", "0"]])
def test_bad_flags_get_a_one_line_error(flags, capsys):
    """A bad flag gets argparse's one-line error and exit status 2."""
    with pytest.raises(SystemExit) as exit_info:
        mnist.parse_args(flags)
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("usage:") is False and "error:" in last_line


def test_first_ctrl_c_asks_to_stop_and_the_second_quits():
    """The first Ctrl-C asks training to stop after the batch; the second quits at once."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        should_stop = mnist.install_interrupt_handler()
        assert not should_stop()
        os.kill(os.getpid(), signal.SIGINT)  # handled at once: the handler only records it
        assert should_stop()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_password_in_a_mirror_url_is_refused_without_printing_it(capsys):
    """user:password in a mirror URL is refused at the command line, and not echoed."""
    with pytest.raises(SystemExit):
        mnist.parse_args(["--mirror", "https://user:secret@example.org/mnist/"])
    err = capsys.readouterr().err
    assert "user name or password" in err and "secret" not in err


@pytest.mark.parametrize("flags", [["--timeout", "inf"], ["--timeout", "1e300"],
                                   ["--timeout", "nan"], ["--mirror", "ftp://host/"],
                                   ["--mirror", "not a url"], ["--mirror", ""],
                                   ["--mirror", "file://relative/folder"]])
def test_bad_timeouts_and_mirrors_get_a_one_line_error(flags, capsys):
    """Infinite timeouts and mirrors that are no usable URL are refused at the command line."""
    with pytest.raises(SystemExit) as exit_info:
        mnist.parse_args(flags)
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


def test_a_plain_folder_path_is_a_mirror(tmp_path):
    """A plain folder path works as --mirror, as a user would first try."""
    args = mnist.parse_args(["--mirror", str(tmp_path)])
    assert args.mirror == [tmp_path.resolve().as_uri() + "/"]


def test_each_optimizer_gets_its_own_learning_rate_unless_one_is_given():
    """--optimizer sgd with Adam's 0.002 would learn far slower: each has its own default."""
    assert mnist.parse_args([]).lr == 0.002
    assert mnist.parse_args(["--optimizer", "sgd"]).lr == 0.05
    assert mnist.parse_args(["--optimizer", "sgd", "--lr", "0.2"]).lr == 0.2


@pytest.mark.parametrize("where", ["missing/model.npz", "."])
def test_a_bad_save_destination_fails_before_training(tmp_path, tiny_run, where):
    """A typo in --save is found before training, not after the run is spent."""
    status, out, err = tiny_run("--save", tmp_path / where)
    assert status == 1 and "epoch" not in out and "--save" in err
    assert "does not exist" in err or "is a folder" in err


def test_the_network_is_saved_before_the_report(tmp_path, monkeypatch, tiny_run):
    """A Ctrl-C during the report finds the trained network already saved."""
    model = tmp_path / "model.npz"

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(mnist, "print_report", interrupted)
    assert tiny_run("--save", model)[0] == 130
    assert nn.load(model)[1]["epochs_completed"] == 1


def test_load_needs_only_the_test_files(tmp_path, tiny_run, capsys):
    """--load evaluates on the test set, so only its two files are fetched."""
    model = tmp_path / "model.npz"
    assert tiny_run("--save", model)[0] == 0
    only_test = tmp_path / "only-test"
    only_test.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (only_test / (name + ".gz")).write_bytes((tmp_path / "mirror" / (name + ".gz")).read_bytes())
    capsys.readouterr()
    assert mnist.run(["--mirror", str(only_test), "--data-dir", str(tmp_path / "empty"),
                      "--load", str(model), "--report", str(tmp_path / "saved.html")]) == 0
    assert "test accuracy" in capsys.readouterr().out
    page = (tmp_path / "saved.html").read_text()
    assert "Confusion matrix" in page
    # the model carries its history: curves and facts as the trained run's page has them
    assert "Learning curves" in page and "<th>epochs</th><td>1 of 1</td>" in page
    assert "test_accuracy" not in page and "<th>training</th>" in page
    assert sorted(p.name for p in (tmp_path / "empty" / "mnist").iterdir()) == \
        ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def test_a_closed_pipe_ends_the_run_quietly(monkeypatch, capsys):
    """python mnist.py | head ends quietly with the status a closed pipe gives, no error."""
    def closed_pipe(argv):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(mnist, "main", closed_pipe)
    saved = os.dup(1)
    try:
        assert mnist.run([]) == 141
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- mnist.py: augmentation

def test_shift_moves_each_image_by_its_own_draw_with_zero_fill():
    """shift_images equals moving each image by its drawn (dy, dx), the slow obvious way."""
    rng = np.random.default_rng(0)
    images = rng.random((40, 28, 28)).astype(np.float32)
    shifted = mnist.shift_images(images, np.random.default_rng(5), 2)
    draws = np.random.default_rng(5)
    dy, dx = draws.integers(-2, 3, 40), draws.integers(-2, 3, 40)
    for image, out, y, x in zip(images, shifted, dy, dx):
        expected = np.zeros_like(image)
        for row in range(28):                      # the slow, obvious way
            for column in range(28):
                if 0 <= row - y < 28 and 0 <= column - x < 28:
                    expected[row, column] = image[row - y, column - x]
        np.testing.assert_array_equal(out, expected)
    assert len(set(zip(dy, dx))) > 5
    np.testing.assert_array_equal(mnist.shift_images(images, draws, 0), images)   # shift 0


def augment_args(**changes):
    args = mnist.parse_args([])
    for key, value in changes.items():
        setattr(args, key, value)
    return args


def test_digits_are_never_mirrored_but_clothes_may_be():
    """A mirrored digit is not that digit: only Fashion-MNIST's images are flipped."""
    rng = np.random.default_rng(0)
    images = np.zeros((200, 28, 28), dtype=np.float32)
    images[:, 5:20, 3:8] = 1                                     # a bar on the left only
    X = images.reshape(200, -1)
    assert mnist.make_augment(augment_args(augment="none"), flips=False) is None
    digits = mnist.make_augment(augment_args(augment="shift", shift=0), flips=False)
    np.testing.assert_array_equal(digits(X, rng), X)
    clothes = mnist.make_augment(augment_args(augment="shift", shift=0), flips=True)
    mirrored = clothes(X, rng).reshape(-1, 28, 28)[:, 5:20, 20:25].any(axis=(1, 2))
    assert 60 < mirrored.sum() < 140


def test_the_augment_hook_sees_training_batches_only_and_repeats_with_the_seed():
    """train(augment=) sees each training sample once an epoch and never validation data,
    and the same seed repeats the run exactly."""
    X, labels = spiral()
    X_val = np.full((30, 2), 7.0, dtype=np.float32)             # unmistakable
    seen = []

    def augment(X_batch, rng):
        seen.append(X_batch.copy())
        return X_batch + rng.normal(0, 0.01, X_batch.shape)

    results = []
    for _ in range(2):
        seen.clear()
        params = nn.init_params([2, 16, 3], rng=np.random.default_rng(0))
        nn.train(params, X, labels, epochs=2, batch_size=50, rng=3, augment=augment,
                 X_val=X_val, targets_val=np.zeros(30, dtype=int))
        results.append(params["W1"].copy())
    assert sum(len(batch) for batch in seen) == 2 * len(X)
    assert not any((batch == 7.0).all(axis=1).any() for batch in seen)
    np.testing.assert_array_equal(results[0], results[1])
    with pytest.raises(ValueError, match="augment returned shape"):
        nn.train(params, X, labels, epochs=1, augment=lambda b, rng: b[:, :1])


# ---------------------------------------------------------------- mnist.py: what the terminal shows, and the modes

def test_doctor_checks_the_setup_and_exits_without_training(tiny_run, monkeypatch):
    """--doctor, like --find-lr, answers its question and stops: four checks, no epochs. A
    check that fails says its likely cause and what to try, in flags; a range test with
    no minimum says so and suggests nothing."""
    status, out, _ = tiny_run("--doctor")
    assert status == 0 and "epoch" not in out and "test accuracy" not in out
    assert [line.split()[0] for line in out.splitlines()[1:5]] == ["passed"] * 4
    failing = {"check": "overfit", "passed": False, "seen": "50 samples: loss 2.3",
               "cause": "it cannot learn", "remedies": [nn.change(lr=0.01)]}
    monkeypatch.setattr(nn, "sanity_check", lambda *args, **kwargs: [failing])
    status, out, _ = tiny_run("--doctor")
    assert status == 1 and "likely cause: it cannot learn." in out and "try: --lr 0.01." in out
    monkeypatch.setattr(nn, "find_lr", lambda *args, **kwargs: {
        "lrs": [1e-6, 1e-5], "losses": [2.30, 2.31], "suggestion": None})
    status, out, _ = tiny_run("--find-lr")
    assert status == 1 and "no rate to suggest" in out and "suggested" not in out


def test_a_run_log_that_cannot_be_written_costs_a_warning_not_the_run(tmp_path, tiny_run):
    """The run log is a convenience: a folder that is not there, or a file that cannot be
    written (here a folder where the file should be), gets a warning, and training goes on
    and reports."""
    status, out, err = tiny_run("--runs", tmp_path / "nowhere" / "runs.jsonl")
    assert status == 0 and "test accuracy" in out and "cannot write the run log" in err
    (tmp_path / "taken.jsonl").mkdir()
    status, out, err = tiny_run("--runs", tmp_path / "taken.jsonl")
    assert status == 0 and "test accuracy" in out
    assert "warning: could not record the run" in err and "Is a directory" in err


def test_a_file_that_is_no_model_is_refused_in_one_line(tmp_path, capsys):
    """--load README.md: one line saying it is no model, and what it is."""
    (tmp_path / "README.md").write_text("# nn.py\n")
    assert mnist.run(["--load", str(tmp_path / "README.md")]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "it looks like text" in err and "pickle" not in err


def test_keep_best_and_patience_flags_say_what_they_did(tiny_run):
    status, out, _ = tiny_run("--epochs", 30, "--patience", 1, "--keep-best", "--lr", "0.05")
    assert status == 0
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) < 30 and "stopped after epoch" in out and "kept the network of epoch" in out
    with pytest.raises(SystemExit) as exit_status:
        tiny_run("--keep-best", "--val-size", 0)
    assert exit_status.value.code == 2


def test_watch_serves_the_run_and_its_stop_keeps_what_save_promises(tmp_path, tiny_run,
                                                                     monkeypatch):
    """--watch: the page's state follows the run; its stop ends training as Ctrl-C does
    (stopped early, the network saved, the judge skipped), and the page would stay up."""
    from extras import watch
    seen, stayed = {}, []
    make_server = watch.make_server

    def spy(run, port):
        server = make_server(run, 0)
        seen["address"], seen["run"] = f"127.0.0.1:{server.server_address[1]}", run
        return server
    monkeypatch.setattr(watch, "make_server", spy)
    monkeypatch.setattr(watch, "stay_up", lambda run: stayed.append(run.finished or True))

    on_batch = watch.LiveRun.on_batch

    def stop_after_a_few_batches(run, epoch, batch, loss):
        on_batch(run, epoch, batch, loss)
        if run.step == 5:
            with urllib.request.urlopen(urllib.request.Request(
                    f"http://{seen['address']}/stop", method="POST"), timeout=10) as reply:
                assert json.loads(reply.read())["stopped"]
    monkeypatch.setattr(watch.LiveRun, "on_batch", stop_after_a_few_batches)
    model = tmp_path / "model.npz"
    status, out, err = tiny_run("--watch", "--batch-size", 10, "--epochs", 5, "--save", model)
    assert status == 0 and "watch the run at http://127.0.0.1:" in err
    assert "stopped early during epoch 1" in err and model.exists() and stayed
    assert seen["run"].step == 5 and not out.count("epoch   1/5")
    with pytest.raises(SystemExit):
        tiny_run("--watch", "--doctor")


def test_the_doctor_speaks_in_flags(tiny_run, capsys):
    """Remedies of nn.diagnose come out as mnist.py's flags; the ones it has no flag for
    in words; init never (mnist.py chooses it)."""
    args = mnist.parse_args(["--augment", "none"])
    assert mnist.as_flags(nn.change(lr=0.0003), args) == "--lr 0.0003"
    assert mnist.as_flags(nn.change(keep_best=True), args) == "--keep-best"
    assert mnist.as_flags(nn.advice("augment=...", setting="augment"), args) == "--augment shift"
    assert mnist.as_flags(nn.change(activation="relu", init="he"), args) == "--activation relu"
    assert mnist.as_flags(nn.change(sizes=[784, 64, 32, 10]), args) == "--hidden 64,32"
    assert mnist.as_flags(nn.advice("more data"), args) == "more data"
    assert mnist.as_flags(nn.advice("a higher rate (find_lr())"), args) == "a higher rate (--find-lr)"


def test_each_dataset_trains_with_its_own_defaults_unless_told_otherwise(capsys):
    """Fashion-MNIST's defaults were chosen on its own validation split; a flag given wins,
    and --help states both datasets' defaults."""
    assert mnist.parse_args([]).augment == "shift"
    fashion = mnist.parse_args(["--dataset", "fashion"])
    assert (fashion.augment, fashion.dropout) == (mnist.DEFAULTS["fashion"]["augment"],
                                                  mnist.DEFAULTS["fashion"]["dropout"])
    assert mnist.parse_args(["--dataset", "fashion", "--augment", "shift"]).augment == "shift"
    assert mnist.parse_args(["--dataset", "fashion", "--dropout", "0"]).dropout == 0
    # MNIST's decay is sized for Adam's rate (each step shrinks W by lr * decay): SGD's
    # rate is 25x Adam's, so SGD gets none unless asked
    assert [mnist.parse_args(flags).weight_decay for flags in (
        [], ["--optimizer", "sgd"], ["--optimizer", "sgd", "--weight-decay", "0.3"],
        ["--dataset", "fashion"])] == [0.1, 0.0, 0.3, 0.0]
    with pytest.raises(SystemExit):
        mnist.parse_args(["--help"])
    assert "for fashion)" in capsys.readouterr().out


def test_load_takes_the_dataset_from_the_model_file(tmp_path, tiny_run):
    """A saved model knows its dataset: --dataset is not needed, and a contradicting one
    is refused with the way out."""
    model = tmp_path / "model.npz"
    assert tiny_run("--save", model)[0] == 0
    status, out, _ = tiny_run("--load", model)
    assert status == 0 and "test accuracy" in out
    status, _, err = tiny_run("--load", model, "--dataset", "fashion")
    assert status == 1 and "trained on mnist, not fashion" in err


def test_a_run_that_diverges_is_recorded_too(tmp_path, tiny_run):
    """A learning rate that blows training up still leaves its line in the runs file, with
    the epochs it finished and 'diverged' as its finding, and --compare shows it."""
    status, _, err = tiny_run("--optimizer", "sgd", "--lr", "1e6", "--epochs", "3")
    assert status == 1 and "diverged" in err
    assert "try --lr 100000.0, 10x lower" in err and "--find-lr" in err   # in mnist.py's flags
    run, = runs.read(tmp_path / "data" / "runs.jsonl")
    assert run["test_accuracy"] is None and run["findings"][0]["check"] == "diverged"
    status, out, _ = tiny_run("--compare")
    assert status == 0 and "diverged" in out.splitlines()[1]


def test_the_other_modes_are_handed_to_extras_with_the_saved_judge(tmp_path, tiny_run,
                                                                    monkeypatch, capsys):
    """--save keeps the reader's judge with the network; --load hands --predict,
    --number-test and --serve to extras/, each given that judge; without --load they say
    how to make a network; --runs none records nothing, and --compare reads the log."""
    model = tmp_path / "model.npz"
    assert tiny_run("--save", model, "--runs", "none")[0] == 0
    assert not (tmp_path / "data" / "runs.jsonl").exists()
    saved = judge.saved_judge(nn.load(model)[1], model)
    assert saved["W1"].shape == (judge.JUDGE_INPUTS, judge.JUDGE_HIDDEN)
    assert (tmp_path / "data" / "mnist" / judge.JUDGE_FILE).exists()    # kept for next time
    given, read_number = [], reader.read_number

    def reading(pixels, params, activation, name="image", judge=None):
        given.append(judge)
        return read_number(pixels, params, activation, name, judge)
    monkeypatch.setattr(reader, "read_number", reading)
    ring = (255 - 255 * centred_digit()).astype(np.uint8)
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    one.write_bytes(images.write_png(np.pad(ring, 30, constant_values=255)))
    two.write_bytes(images.write_png(np.pad(np.hstack([ring, np.full((28, 20), 255, np.uint8),
                                                       ring]), 30, constant_values=255)))
    (tmp_path / "blank.png").write_bytes(images.write_png(np.zeros((9, 9), dtype=np.uint8)))
    status, out, err = tiny_run("--load", model, "--predict", one, two, tmp_path / "blank.png",
                                tmp_path / "missing.png")
    lines = [line for line in out.splitlines() if line.startswith(str(tmp_path))]
    assert status == 1 and len(lines) == 2                 # a bad file does not stop the rest
    assert re.fullmatch(re.escape(str(one)) + r": (\d \(\d+\.\d%\)  ){2}\d \(\d+\.\d%\)"
                        r"(  unsure)?", lines[0])
    assert re.fullmatch(re.escape(str(two)) + r": (\d)(\d)(  unsure: \1\??\2\??)?  "
                        r"\(\1 \d+\.\d%, \2 \d+\.\d%\)", lines[1])
    drawn = out.split(lines[1])[1].splitlines()[1:]
    assert len(drawn) > 10 and max(map(len, drawn)) > 28 * 2   # two digits side by side
    assert "blank.png: no ink found" in err and "missing.png: no such file" in err
    status, out, _ = tiny_run("--load", model, "--number-test", 2)
    assert status == 0 and re.search(r"all +\d of 6 +read exactly", out)

    def port_taken(params, activation, port, judge=None, teacher=None):
        given.append(judge)
        raise OSError("address in use")
    monkeypatch.setattr(page, "make_server", port_taken)
    assert tiny_run("--load", model, "--serve")[0] == 1
    assert len(given) > 6 and all(np.array_equal(each["W1"], saved["W1"]) for each in given)
    for flags in (["--predict", "x.png"], ["--serve"], ["--number-test", "2"]):
        with pytest.raises(SystemExit):
            mnist.parse_args(flags)
        assert "needs a saved network" in capsys.readouterr().err
    status, _, err = tiny_run("--compare")
    assert status == 1 and "no runs recorded" in err
    assert tiny_run()[0] == 0 and tiny_run("--compare")[0] == 0


def test_teach_fine_tunes_a_saved_network_on_a_folder_and_saves_a_new_one(tmp_path, tiny_run):
    """--load MODEL --teach FOLDER --save NEW: how each picture was read before and after,
    MNIST's validation before and after, and a new model with the judge, taught too, that
    says what it was taught; --teach without --save, or a folder of wrong names, is refused."""
    model, taught = tmp_path / "model.npz", tmp_path / "mine.npz"
    assert tiny_run("--save", model, "--runs", "none")[0] == 0
    folder = tmp_path / "hand"
    folder.mkdir()
    ring = (255 - 255 * centred_digit()).astype(np.uint8)
    for name in ("0.png", "0b.png", "5-x.png"):
        (folder / name).write_bytes(images.write_png(np.pad(ring, 30, constant_values=255)))
    status, out, err = tiny_run("--load", model, "--teach", folder, "--save", taught)
    assert status == 0, err
    assert "teaching 3 pictures from" in out and "none of 1, 2, 3, 4, 6, 7, 8, 9" in out
    assert re.search(r"\n  5: \d\?? \(\d+%\) -> \d\?? \(\d+%\)\n", out)
    assert re.search(r"read right: \d of 3 before, \d of 3 after", out)
    assert re.search(r"MNIST validation: \d+\.\d\d% before, \d+\.\d\d% after", out)
    assert "the doctor: layer too narrow" in out and "loss at start" not in out  # it starts trained
    params, info = nn.load(taught)
    assert info["taught"] == "3 pictures from hand" and np.isnan(info["test_accuracy"])
    taught_judge, loaded_judge = (judge.saved_judge(i, taught) for i in (info, nn.load(model)[1]))
    assert taught_judge["W1"].shape == loaded_judge["W1"].shape          # the judge was
    assert not np.array_equal(taught_judge["W1"], loaded_judge["W1"])   # taught the hand too
    assert not all(np.array_equal(params[key], nn.load(model)[0][key]) for key in params)
    with pytest.raises(SystemExit):
        mnist.parse_args(["--load", str(model), "--teach", str(folder)])
    (folder / "five.png").write_bytes(images.write_png(ring))
    status, _, err = tiny_run("--load", model, "--teach", folder, "--save", taught)
    assert status == 1 and "five.png: not a picture named by its digit" in err


def test_the_pages_teacher_loads_mnist_once_teaches_and_saves_at_save(tmp_path, tiny_run,
                                                                     monkeypatch):
    """--serve's teach mode: the teacher mnist.py hands the page loads the training digits
    at its first teaching only, teaches the network the page serves, in place, and saves
    it at --save, saying what it was taught."""
    model, taught = tmp_path / "model.npz", tmp_path / "mine.npz"
    assert tiny_run("--save", model, "--runs", "none")[0] == 0
    args = mnist.parse_args(["--load", str(model), "--serve", "--save", str(taught),
                             "--data-dir", str(tmp_path / "data")])
    params, info = nn.load(model)
    loads, load_dataset = [], mnist.load_dataset
    monkeypatch.setattr(mnist, "load_dataset", lambda *a, **k: loads.append(1) or load_dataset(*a, **k))
    teacher = mnist.make_teacher(args, params, info)
    inputs = np.stack([centred_digit()] * 2)
    for _ in range(2):
        answer = teacher(inputs, np.array([5, 5]))
        assert answer["saved"] == str(taught) and answer["after"].shape == (2, 10)
    assert len(loads) == 1
    saved, saved_info = nn.load(taught)
    assert saved_info["taught"] == "2 pictures written on the page"
    assert all(np.array_equal(saved[key], params[key]) for key in params)


def test_styles_rewrite_the_training_digits_only_and_are_said(tiny_run, monkeypatch):
    """--styles hands distort.hand_styles the training digits, in place, with their labels
    and the share asked, never the validation digits; the first line says it; --styles 0
    calls nothing."""
    from extras import distort
    given = []
    monkeypatch.setattr(distort, "hand_styles",
                        lambda images, labels, rng, share: given.append((images, labels, share)))
    status, out, _ = tiny_run("--styles", "0.25", "--runs", "none")
    images, labels, share = given[0]
    assert status == 0 and share == 0.25 and images.shape == (300 - 50, 28, 28)
    assert len(labels) == 250 and "+ styles 0.25" in out.splitlines()[0]
    status, out, _ = tiny_run("--styles", "0", "--runs", "none")
    assert len(given) == 1 and "styles" not in out.splitlines()[0]
    with pytest.raises(SystemExit):
        mnist.parse_args(["--dataset", "fashion", "--styles", "0.5"])
