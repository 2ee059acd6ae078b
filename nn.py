"""nn.py: a neural network from the ground up, in NumPy alone.

A fully connected network (a multilayer perceptron) is a dict of arrays,

    params = {"W1": (D, H1), "b1": (H1,), "W2": (H1, H2), "b2": (H2,), ..., "bL": (C,)}

and everything else is a plain function over such dicts: activations, layers, losses, the
network's forward and backward pass, optimizers, a training loop, saving and loading, and a
gradient check. Read it top to bottom; nothing is used before it is defined.

Conventions: a batch is the rows of a matrix, X (N, D); a layer computes z = x @ W + b;
every loss is a mean over the batch and returns its gradient with respect to the network's
output, so backward() needs no other knowledge of the loss.

Left out on purpose: convolutions, batch normalisation, automatic differentiation and GPUs.
Every derivative is written by hand and checked against finite differences (test_nn.py).

    rng = np.random.default_rng(0)
    params = init_params([2, 16, 2], rng=rng)
    history = train(params, X, labels, epochs=50, lr=0.1, rng=rng)
    print(accuracy(labels, predict(params, X)))

Copy this file into your project: it needs NumPy and the standard library only.
"""
import math
import os
import time

import numpy as np


# ---------------------------------------------------------------- activations
# Each activation a = f(z) works elementwise. Its backward takes the upstream gradient
# da = dL/da and the input z, and returns dz = dL/dz = da * f'(z).

def relu(z):
    """relu(z) = max(z, 0)."""
    return np.maximum(z, 0)


def relu_backward(da, z):
    """dz = da * [z > 0]. The mask comes from the input z, never from the sign of da."""
    return da * (z > 0)


def leaky_relu(z, slope=0.01):
    """leaky_relu(z) = z where z > 0, slope * z elsewhere: negative inputs still learn."""
    return np.where(z > 0, z, slope * z)


def leaky_relu_backward(da, z, slope=0.01):
    """dz = da * (1 where z > 0, slope elsewhere)."""
    return np.where(z > 0, da, slope * da)


def sigmoid(z):
    """sigmoid(z) = 1 / (1 + exp(-z)), computed so that exp only ever sees -|z| (no overflow)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(da, z):
    """dz = da * s * (1 - s), with s = sigmoid(z) recomputed rather than stored."""
    s = sigmoid(z)
    return da * s * (1 - s)


def tanh(z):
    """tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))."""
    return np.tanh(z)


def tanh_backward(da, z):
    """dz = da * (1 - tanh(z)**2)."""
    t = np.tanh(z)
    return da * (1 - t * t)


# The activations by name, each with its derivative: forward() and backward() look them up.
ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
}


def check_activation(activation):
    """Raise a ValueError naming the choices if `activation` is not one of ACTIVATIONS."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}")


# ---------------------------------------------------------------- layers

def init_params(sizes, rng=None, dtype=np.float32, init="he"):
    """Make the weights of a network with layer sizes [D, H1, ..., C].

    Returns params with W{i} (sizes[i-1], sizes[i]) and b{i} (sizes[i],) for i = 1 .. L.
    Weights are drawn from N(0, std**2), scaled by the fan-in so that signals keep their
    size from layer to layer; biases start at zero.
        init="he":     std = sqrt(2 / fan_in)               suits relu and leaky_relu
        init="glorot": std = sqrt(2 / (fan_in + fan_out))   suits tanh and sigmoid
    rng is a np.random.Generator; None means np.random.default_rng(0), so results repeat.
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be two or more positive integers, like [784, 256, 10]; "
                         f"got {sizes}")
    if init not in ("he", "glorot"):
        raise ValueError(f"unknown init {init!r}; choose 'he' (relu) or 'glorot' (tanh, sigmoid)")
    if rng is None:
        rng = np.random.default_rng(0)
    params = {}
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        if init == "he":
            std = math.sqrt(2 / fan_in)
        else:
            std = math.sqrt(2 / (fan_in + fan_out))
        params[f"W{i}"] = (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)
        params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
    return params


def layer_sizes(params):
    """The sizes [D, H1, ..., C] that init_params() made `params` from."""
    n_layers = len(params) // 2
    return [params["W1"].shape[0]] + [params[f"W{i}"].shape[1] for i in range(1, n_layers + 1)]


def dense(x, W, b):
    """z = x @ W + b.    x (N, D), W (D, H), b (H,) -> z (N, H)"""
    return x @ W + b


def dense_backward(dz, x, W, need_dx=True):
    """Given dz = dL/dz of z = x @ W + b, return (dx, dW, db):
        dx = dz @ W.T        (N, D)   None when need_dx is False (nothing upstream to train)
        dW = x.T @ dz        (D, H)   summed over the batch: the loss already divided by N
        db = sum of dz rows  (H,)
    """
    dx = dz @ W.T if need_dx else None
    return dx, x.T @ dz, dz.sum(axis=0)


def dropout_mask(shape, drop, rng, dtype):
    """An 'inverted dropout' mask: 0 with probability `drop`, else 1 / (1 - drop).

    Dividing by the keep probability keeps the expected activation unchanged, so the
    network needs no rescaling when dropout is switched off for evaluation.
    """
    keep = rng.random(shape, dtype=np.float32) >= drop
    return keep.astype(dtype) / dtype(1 - drop)


# ---------------------------------------------------------------- losses
# Each loss takes the network's output (the logits) and the targets, and returns
# (loss, dlogits): the loss averaged over the batch and its gradient dL/dlogits.

def log_softmax(logits):
    """log softmax(z) = z - logsumexp(z), row by row, shifted by the row maximum first.

    Shifting changes nothing mathematically (softmax(z) = softmax(z - c)), yet exp() can
    no longer overflow: the largest term is exp(0) = 1, so the sum is >= 1 and its log
    is never log(0).
    """
    shifted = logits - logits.max(axis=1, keepdims=True)             # (N, C), max 0
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """probs = exp(z) / sum(exp(z)) row by row: (N, C) -> (N, C), rows sum to 1."""
    return np.exp(log_softmax(logits))


def check_labels(labels, n_samples, n_classes):
    """Return labels as an integer array (N,); raise if they cannot be class labels."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(f"expected {n_samples} labels in a 1-D array, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"class labels must be integers, got dtype {labels.dtype}")
    if n_samples and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}) for {n_classes} outputs; got "
                         f"values from {labels.min()} to {labels.max()}")
    return labels


def softmax_cross_entropy(logits, labels):
    """Cross-entropy of softmax(logits) against integer class labels, fused.

        loss    = -mean(log_softmax(logits)[n, labels[n]])
        dlogits = (softmax(logits) - onehot(labels)) / N          (N, C)

    The gradient is the softmax *and* its Jacobian already: apply no other softmax
    derivative on top of it.
    """
    n_samples, n_classes = logits.shape
    labels = check_labels(labels, n_samples, n_classes)
    rows = np.arange(n_samples)
    log_probs = log_softmax(logits)                                   # (N, C)
    loss = -log_probs[rows, labels].mean()
    dlogits = np.exp(log_probs)                                       # probs (N, C)
    dlogits[rows, labels] -= 1
    dlogits /= n_samples
    return float(loss), dlogits


def mean_squared_error(outputs, targets):
    """Squared error averaged over all N * K elements, for regression.

        loss     = mean((outputs - targets)**2)
        doutputs = 2 * (outputs - targets) / (N * K)              (N, K)
    """
    targets = np.asarray(targets, dtype=outputs.dtype)
    if targets.ndim == 1 and outputs.shape[1] == 1:
        targets = targets[:, None]
    if targets.shape != outputs.shape:
        raise ValueError(f"targets have shape {targets.shape}, outputs {outputs.shape}; "
                         f"they must match")
    error = outputs - targets
    return float((error * error).mean()), error * (2 / error.size)


def binary_cross_entropy(logits, targets):
    """Cross-entropy of sigmoid(logits) against targets in [0, 1], for one output.

        loss    = mean(log(1 + exp(z)) - t * z)  = -mean(t log s + (1 - t) log(1 - s))
        dlogits = (sigmoid(z) - t) / N                             (N, 1)
    log(1 + exp(z)) is computed as max(z, 0) + log1p(exp(-|z|)): no overflow, no log(0).
    """
    if logits.ndim != 2 or logits.shape[1] != 1:
        raise ValueError(f"binary_cross_entropy wants a network with one output, (N, 1) "
                         f"logits; got shape {logits.shape}")
    targets = np.asarray(targets, dtype=logits.dtype).reshape(-1, 1)
    if targets.shape != logits.shape:
        raise ValueError(f"expected {logits.shape[0]} targets, got {targets.shape[0]}")
    if not np.all((targets >= 0) & (targets <= 1)):
        raise ValueError("binary_cross_entropy targets must lie in [0, 1]")
    softplus = np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits)))
    loss = (softplus - targets * logits).mean()
    return float(loss), (sigmoid(logits) - targets) / logits.shape[0]


LOSSES = {
    "cross_entropy": softmax_cross_entropy,
    "mse": mean_squared_error,
    "binary_cross_entropy": binary_cross_entropy,
}


def check_loss(loss):
    """Raise a ValueError naming the choices if `loss` is not one of LOSSES."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


# ---------------------------------------------------------------- the network

def check_features(X, params):
    """Raise a ValueError unless X is (N, D) for a first layer W1 (D, H)."""
    if X.ndim != 2 or X.shape[1] != params["W1"].shape[0]:
        raise ValueError(f"X must be (N, {params['W1'].shape[0]}) to match W1 "
                         f"{params['W1'].shape}; got shape {X.shape}")


def forward(params, X, activation="relu", dropout=0.0, rng=None):
    """Run the network on a batch: (logits, cache).

    Hidden layer i:  z{i} = a{i-1} @ W{i} + b{i},  a{i} = activation(z{i})   (a0 = X)
    Last layer L:    logits = a{L-1} @ W{L} + b{L}   (linear; the loss adds softmax)
    With dropout > 0 (training only), each hidden a{i} is multiplied by a fresh dropout
    mask drawn from rng. X (N, D) -> logits (N, C). The cache keeps what backward() needs.
    """
    check_activation(activation)
    check_features(X, params)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout is a probability in [0, 1); got {dropout}")
    if dropout > 0 and rng is None:
        raise ValueError("dropout needs rng, a np.random.Generator, to draw its masks")
    f = ACTIVATIONS[activation][0]
    n_layers = len(params) // 2
    cache = {"activation": activation, "a0": X}
    a = X
    for i in range(1, n_layers):
        z = dense(a, params[f"W{i}"], params[f"b{i}"])                # (N, H_i)
        a = f(z)
        if dropout > 0:
            mask = dropout_mask(a.shape, dropout, rng, a.dtype.type)
            a = a * mask
            cache[f"mask{i}"] = mask
        cache[f"z{i}"], cache[f"a{i}"] = z, a
    logits = dense(a, params[f"W{n_layers}"], params[f"b{n_layers}"])  # (N, C)
    return logits, cache


def backward(params, cache, dlogits):
    """Backpropagate dlogits = dL/dlogits (N, C) through the network: grads.

    grads has exactly the keys and shapes of params. Walking from the last layer down:
        dW{i}, db{i} from dense_backward(dz{i}, a{i-1}, W{i})
        da{i-1} = dz{i} @ W{i}.T, times the dropout mask if there was one,
        dz{i-1} = activation_backward(da{i-1}, z{i-1})
    dL/dX is never needed, so the first layer skips it (a third of its backward work).
    """
    f_backward = ACTIVATIONS[cache["activation"]][1]
    n_layers = len(params) // 2
    grads = {}
    dz = dlogits
    for i in range(n_layers, 0, -1):
        da, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(
            dz, cache[f"a{i - 1}"], params[f"W{i}"], need_dx=i > 1)
        if i > 1:
            if f"mask{i - 1}" in cache:
                da *= cache[f"mask{i - 1}"]
            dz = f_backward(da, cache[f"z{i - 1}"])                    # (N, H_{i-1})
    return {key: grads[key] for key in params}


def check_inputs(X, params):
    """Return X as an array of the parameters' dtype (copied only if it is not one
    already); raise if it is not (N, D) for W1 (D, H), or holds NaN or infinity."""
    X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
    X = X.astype(params["W1"].dtype, copy=False)
    check_features(X, params)
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values; clean or impute them first")
    return X


def predict(params, X, activation="relu", batch_size=10000):
    """Class predictions (N,) for X (N, D): the argmax of the logits, or for a network
    with a single output, 1 where its logit is > 0 (probability > 0.5), else 0.

    Runs in chunks of batch_size rows so a large X needs little memory.
    """
    X = check_inputs(X, params)
    predictions = []
    for start in range(0, len(X), batch_size):
        logits, _ = forward(params, X[start:start + batch_size], activation)
        if logits.shape[1] == 1:
            predictions.append((logits[:, 0] > 0).astype(np.int64))
        else:
            predictions.append(logits.argmax(axis=1))
    return np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)


def accuracy(labels, predictions):
    """The fraction of predictions equal to the labels."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    return float((labels == predictions).mean())


def confusion_matrix(labels, predictions, n_classes):
    """counts (n_classes, n_classes): counts[t, p] = how often class t was predicted as p.

    Row t sums to the number of samples of class t; the diagonal holds the correct ones.
    """
    labels = check_labels(labels, len(labels), n_classes)
    predictions = check_labels(predictions, len(labels), n_classes)
    flat = labels * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def precision_recall(counts):
    """Per-class (precision, recall) from a confusion matrix counts[true, predicted].

    precision[k] = counts[k, k] / counts[:, k].sum()   of the samples called k, how many are k
    recall[k]    = counts[k, k] / counts[k, :].sum()   of the samples that are k, how many found
    A class never predicted (or never present) gets precision (or recall) 0.
    """
    correct = np.diag(counts).astype(np.float64)
    predicted, actual = counts.sum(axis=0), counts.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
    return precision, recall


# ---------------------------------------------------------------- optimizers
# An optimizer step changes params in place, using grads from backward(). Whatever it must
# remember between steps (velocities, moment estimates) lives in `state`, a dict that
# starts empty and is filled on the first step.
#
# Weight decay shrinks each weight matrix W towards zero, W = W - lr * weight_decay * W,
# apart from the gradient step ("decoupled", as in AdamW: Loshchilov & Hutter, 2019).
# For plain SGD that is exactly L2 regularisation, adding (weight_decay / 2) * sum(W**2)
# to the loss; with momentum or Adam it keeps the decay from being rescaled by their step
# sizes. Biases are not decayed.
#
# The updates are written in place (*=, +=, out=) into arrays kept in state. Each
# expression like lr * v would allocate a new array as big as the weights on every step,
# and the memory allocator's round trips to the operating system then cost more than
# the arithmetic itself (Adam was 6x slower written that way).

def sgd_step(params, grads, state, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    For every parameter P with gradient g:
        v = momentum * v + g                 (the velocity, starts at 0)
        P = P - lr * v                       (momentum)
        P = P - lr * (g + momentum * v)      (Nesterov: look ahead along v)
    With momentum = 0 this is plain SGD, P = P - lr * g. Weight decay: see above.
    """
    for key, param in params.items():
        if key not in state:
            state[key] = {"velocity": np.zeros_like(param), "work": np.empty_like(param)}
        g, velocity, work = grads[key], state[key]["velocity"], state[key]["work"]
        if weight_decay and key.startswith("W"):
            param *= 1 - lr * weight_decay
        if momentum == 0:
            direction = g
        else:
            velocity *= momentum
            velocity += g                                        # v = momentum * v + g
            direction = velocity
            if nesterov:
                np.multiply(velocity, momentum, out=work)
                work += g                                        # g + momentum * v
                direction = work
        param -= np.multiply(direction, lr, out=work)            # P = P - lr * direction


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba, 2015): each parameter's step scaled by its own gradient history.

    For every parameter P with gradient g, at step t = 1, 2, ...:
        m = beta1 * m + (1 - beta1) * g          (running mean of g, starts at 0)
        s = beta2 * s + (1 - beta2) * g**2       (running mean of g**2, starts at 0)
        P = P - lr * m_hat / (sqrt(s_hat) + eps)
    where m_hat = m / (1 - beta1**t) and s_hat = s / (1 - beta2**t) undo the pull towards
    zero of the first steps. The code folds both corrections into step_size and eps_hat:
        lr * m_hat / (sqrt(s_hat) + eps) = step_size * m / (sqrt(s) + eps_hat)
    Weight decay: see above.
    """
    t = state.get("t", 0) + 1
    state["t"] = t
    step_size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    eps_hat = eps * math.sqrt(1 - beta2 ** t)
    for key, param in params.items():
        if key not in state:
            state[key] = {"m": np.zeros_like(param), "s": np.zeros_like(param),
                          "work": np.empty_like(param)}
        g, m, s, work = grads[key], state[key]["m"], state[key]["s"], state[key]["work"]
        if weight_decay and key.startswith("W"):
            param *= 1 - lr * weight_decay
        m *= beta1
        m += np.multiply(g, 1 - beta1, out=work)                 # m = beta1 m + (1 - beta1) g
        s *= beta2
        np.multiply(g, g, out=work)
        s += np.multiply(work, 1 - beta2, out=work)              # s = beta2 s + (1 - beta2) g**2
        np.sqrt(s, out=work)
        work += eps_hat
        np.divide(m, work, out=work)                             # m / (sqrt(s) + eps_hat)
        param -= np.multiply(work, step_size, out=work)          # P = P - step_size * ...


OPTIMIZERS = {"sgd": sgd_step, "adam": adam_step}


# ---------------------------------------------------------------- training

def scheduled_lr(lr, step, total_steps, schedule="constant", final_lr=0.0):
    """The learning rate for batch `step` (0, 1, ...) of a run of `total_steps` batches.

        constant: lr
        linear:   lr + (final_lr - lr) * step / total_steps
        cosine:   final_lr + (lr - final_lr) * (1 + cos(pi * step / total_steps)) / 2
    Both decays start at lr and end near final_lr: large steps to explore, small to settle.
    """
    if schedule == "constant":
        return lr
    progress = step / max(total_steps, 1)
    if schedule == "linear":
        return lr + (final_lr - lr) * progress
    if schedule == "cosine":
        return final_lr + (lr - final_lr) * (1 + math.cos(math.pi * progress)) / 2
    raise ValueError(f"unknown schedule {schedule!r}; choose constant, linear or cosine")


def count_correct(logits, targets, loss):
    """How many rows of logits predict their target's class (0 for the mse loss)."""
    if loss == "cross_entropy":
        return int((logits.argmax(axis=1) == targets).sum())
    if loss == "binary_cross_entropy":
        return int(((logits[:, 0] > 0) == (np.reshape(targets, -1) > 0.5)).sum())
    return 0


def evaluate(params, X, targets, loss="cross_entropy", activation="relu", batch_size=10000):
    """(mean loss, accuracy) of the network on X, dropout off, in chunks of batch_size.

    Accuracy is None for the mse loss (regression has no classes). Draws no random numbers.
    """
    loss_fn = LOSSES[loss]
    total_loss, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        X_batch, targets_batch = X[start:start + batch_size], targets[start:start + batch_size]
        logits, _ = forward(params, X_batch, activation)
        total_loss += loss_fn(logits, targets_batch)[0] * len(X_batch)
        correct += count_correct(logits, targets_batch, loss)
    n = max(len(X), 1)
    return total_loss / n, (None if loss == "mse" else correct / n)


def check_dataset(params, X, targets, loss, name):
    """Return (X, targets) ready for training; raise if they cannot be used together.

    X gets the parameters' dtype (copied once here if needed, never per batch). The
    targets are checked by the loss itself, on all-zero outputs: each loss already
    knows what its targets must look like.
    """
    X = check_inputs(X, params)
    targets = np.asarray(targets)
    if len(targets) != len(X):
        raise ValueError(f"{name} X has {len(X)} samples but its targets have {len(targets)}")
    if len(X) == 0:
        raise ValueError(f"the {name} set is empty")
    n_outputs = params[f"W{len(params) // 2}"].shape[1]
    LOSSES[loss](np.zeros((len(X), n_outputs), dtype=X.dtype), targets)
    if loss != "cross_entropy":
        targets = targets.astype(X.dtype, copy=False)
    return X, targets


def train(params, X, targets, epochs=10, batch_size=32, lr=0.01, optimizer="sgd",
          momentum=0.9, nesterov=False, weight_decay=0.0, loss="cross_entropy",
          activation="relu", dropout=0.0, schedule="constant", final_lr=0.0,
          X_val=None, targets_val=None, rng=None, on_epoch=None, should_stop=None):
    """Train params in place with minibatch gradient descent; return the history.

    X (N, D) are the inputs; targets are class labels (N,) for loss="cross_entropy", 0/1
    labels for "binary_cross_entropy" (one output), or values (N, C) for "mse".
    Each epoch visits the samples in a new order drawn from rng (a np.random.Generator;
    None means np.random.default_rng(0)), in batches of batch_size, and takes one
    optimizer step ("sgd" with momentum / nesterov, or "adam") per batch. The learning
    rate follows `schedule` from lr towards final_lr, batch by batch (see scheduled_lr).
    dropout is the probability of zeroing each hidden activation while training.

    history is a list with one dict per epoch: epoch, loss and train_accuracy (averaged
    over the epoch's batches as they were trained, dropout on), val_loss and val_accuracy
    (None without validation data), lr (at the epoch's end), seconds, samples_per_second.
    on_epoch(record) is called after each epoch, e.g. to print it. should_stop() is asked
    after every batch; when it says True, training stops there and the history so far is
    returned. A loss that turns NaN or infinite stops training with a FloatingPointError.
    """
    check_activation(activation)
    check_loss(loss)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    scheduled_lr(lr, 0, 1, schedule, final_lr)  # rejects an unknown schedule now, not later
    X, targets = check_dataset(params, X, targets, loss, "training")
    if X_val is not None:
        X_val, targets_val = check_dataset(params, X_val, targets_val, loss, "validation")
    if rng is None:
        rng = np.random.default_rng(0)

    loss_fn, step_fn = LOSSES[loss], OPTIMIZERS[optimizer]
    if optimizer == "sgd":
        settings = {"momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}
    else:
        settings = {"weight_decay": weight_decay}
    state = {}
    n_samples = len(X)
    batches_per_epoch = math.ceil(n_samples / batch_size)
    total_steps, step = epochs * batches_per_epoch, 0
    history = []
    for epoch in range(1, epochs + 1):
        start_time = time.perf_counter()
        order = rng.permutation(n_samples)
        total_loss, correct = 0.0, 0
        for start in range(0, n_samples, batch_size):
            batch = order[start:start + batch_size]
            X_batch, targets_batch = X[batch], targets[batch]      # the only copy: one batch
            # Overflow is caught just below, as a non-finite loss with a clear message.
            with np.errstate(over="ignore", invalid="ignore"):
                logits, cache = forward(params, X_batch, activation, dropout, rng)
                batch_loss, dlogits = loss_fn(logits, targets_batch)
            if not math.isfinite(batch_loss):
                raise FloatingPointError(
                    f"the loss became {batch_loss} at epoch {epoch}, batch "
                    f"{start // batch_size + 1}: training diverged. Try a lower learning "
                    f"rate (lr={lr} now), or check the inputs are scaled (e.g. to [0, 1]).")
            grads = backward(params, cache, dlogits)
            current_lr = scheduled_lr(lr, step, total_steps, schedule, final_lr)
            step_fn(params, grads, state, current_lr, **settings)
            step += 1
            total_loss += batch_loss * len(batch)
            correct += count_correct(logits, targets_batch, loss)
            if should_stop is not None and should_stop():
                return history
        val_loss = val_accuracy = None
        if X_val is not None:
            val_loss, val_accuracy = evaluate(params, X_val, targets_val, loss, activation)
        seconds = time.perf_counter() - start_time
        record = {
            "epoch": epoch,
            "loss": total_loss / n_samples,
            "train_accuracy": None if loss == "mse" else correct / n_samples,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "lr": current_lr,
            "seconds": seconds,
            "samples_per_second": n_samples / seconds,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history


# ---------------------------------------------------------------- saving and loading

def save(path, params, activation="relu", **info):
    """Save a network to an .npz file that load() alone turns back into a usable model.

    Stores the arrays of params, the layer sizes, the activation, and each keyword in
    info (numbers, strings, or lists of them: e.g. seed=0, test_accuracy=0.98). Written
    to a temporary file first and renamed, so an interrupted save leaves no broken file.
    """
    check_activation(activation)
    arrays = dict(params)
    arrays["sizes"] = np.array(layer_sizes(params))
    arrays["activation"] = np.array(activation)
    for key, value in info.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise TypeError(f"info {key!r} must be a number, a string or a list of them "
                            f"(it is saved without pickle); got {type(info[key]).__name__}")
        arrays["info_" + key] = value
    path = os.fspath(path)
    temporary = path + ".partial"
    try:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load(path):
    """Read a network written by save(): (params, info).

    info holds "sizes", "activation" and every keyword given to save(). Opened with
    allow_pickle=False, so a file can carry arrays only, never code.
        params, info = load("model.npz")
        predictions = predict(params, X, info["activation"])
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except OSError:
        raise
    except Exception as error:  # a zip, pickle or format error: all mean the same here
        raise ValueError(f"{path} is not a model saved by nn.save(): {error}") from error
    if "sizes" not in arrays or "activation" not in arrays:
        raise ValueError(f"{path} is not a model saved by nn.save(): it has no sizes or "
                         f"activation")
    sizes = [int(size) for size in arrays.pop("sizes")]
    params = {}
    for i in range(1, len(sizes)):
        for key in (f"W{i}", f"b{i}"):
            if key not in arrays:
                raise ValueError(f"{path} is damaged: it has no {key} for sizes {sizes}")
            params[key] = arrays.pop(key)
    if layer_sizes(params) != sizes:
        raise ValueError(f"{path} is damaged: its arrays do not have the sizes {sizes}")
    info = {"sizes": sizes, "activation": str(arrays.pop("activation"))}
    for key, value in arrays.items():
        if key.startswith("info_"):
            info[key[len("info_"):]] = value.tolist()
    return params, info


# ---------------------------------------------------------------- gradient check

def gradient_check(params, X, targets, loss="cross_entropy", activation="relu",
                   dropout=0.0, step=1e-5, seed=0):
    """Check backward() against numerical differentiation; return the worst relative error.

    Everything is copied to float64. For every entry P[j] of every parameter array P:
        numeric[j] = (L(P[j] + step) - L(P[j] - step)) / (2 * step)     (central difference)
    and error(P) = |analytic - numeric| / (|analytic| + |numeric|), with |.| the Euclidean
    norm over the whole array. The result is the largest error(P). A correct backward gives
    about 1e-9; a wrong one, 1e-2 or more. With dropout, each evaluation redraws the same
    masks from np.random.default_rng(seed). Costs two forward passes per parameter entry:
    use a small network and a handful of samples. relu has a kink at z = 0, where no
    derivative exists: give the biases small random values first, or a row of inputs that
    dropout zeroed makes z exactly 0 (= the zero bias) and the check reports a false alarm.
    """
    check_loss(loss)
    params = {key: np.array(value, dtype=np.float64) for key, value in params.items()}
    X = np.asarray(X, dtype=np.float64)
    loss_fn = LOSSES[loss]

    def loss_and_grads():
        rng = np.random.default_rng(seed)
        logits, cache = forward(params, X, activation, dropout, rng)
        loss_value, dlogits = loss_fn(logits, targets)
        return loss_value, cache, dlogits

    _, cache, dlogits = loss_and_grads()
    analytic = backward(params, cache, dlogits)
    worst = 0.0
    for key, param in params.items():
        numeric = np.zeros_like(param)
        for j in np.ndindex(param.shape):
            saved = param[j]
            param[j] = saved + step
            loss_plus = loss_and_grads()[0]
            param[j] = saved - step
            loss_minus = loss_and_grads()[0]
            param[j] = saved
            numeric[j] = (loss_plus - loss_minus) / (2 * step)
        scale = np.linalg.norm(analytic[key]) + np.linalg.norm(numeric)
        error = np.linalg.norm(analytic[key] - numeric) / max(scale, 1e-300)
        worst = max(worst, float(error))
    return worst
