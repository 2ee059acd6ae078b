"""nn.py: a neural network from the ground up, in NumPy alone.

A fully connected network (a multilayer perceptron) is a dict of arrays,

    params = {"W1": (D, H1), "b1": (H1,), "W2": (H1, H2), "b2": (H2,), ..., "bL": (C,)}

and everything else is a plain function over such dicts. Training repeats four steps on
each batch of samples: forward (the network's outputs, the logits), loss (how wrong they
are, and its gradient dL/dlogits), backward (the gradient of every parameter, grads, with
the keys of params), and an optimizer step (each parameter moved against its gradient).

The file is a book: the heart (activations, layers, losses, forward and backward,
optimizers, train) comes first and reads top to bottom; the appendix after it (measuring,
the gradient check, the training doctor, saving and loading, the input checks) can wait.

    rng = np.random.default_rng(0)
    params = init_params([2, 16, 2], rng=rng)
    history = train(params, X, labels, epochs=50, lr=0.1, activation="relu", rng=rng)
    print(accuracy(labels, predict(params, X, "relu")))

Left out on purpose: convolutions, batch normalisation, automatic differentiation, GPUs.
Every derivative is written by hand and checked against finite differences (test_nn.py).
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


# ---------------------------------------------------------------- layers

def init_params(sizes, rng=None, dtype=np.float32, init="he"):
    """Make the weights of a network with layer sizes [D, H1, ..., C].

    Returns params with W{i} (sizes[i-1], sizes[i]) and b{i} (sizes[i],) for i = 1 .. L.
    Weights are drawn from N(0, std**2), scaled by the fan-in so that signals keep their
    size from layer to layer; biases start at zero.
        init="he":     std = sqrt(2 / fan_in)               suits relu and leaky_relu
        init="glorot": std = sqrt(2 / (fan_in + fan_out))   suits tanh and sigmoid
    rng is a np.random.Generator or an int seed; None means seed 0, so results repeat.
    """
    check_init(sizes, init, dtype)
    rng = check_rng(rng)
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


def dense(x, W, b):
    """z = x @ W + b.    x (N, D), W (D, H), b (H,) -> z (N, H)"""
    z = x @ W                                                          # (N, H)
    z += b          # in place: saves a second (N, H) array and a pass over it
    return z


def dense_backward(dz, x, W, need_dx=True):
    """Given dz = dL/dz of z = x @ W + b, return (dx, dW, db):
        dx = dz @ W.T        (N, D)   None when need_dx is False (nothing upstream to train)
        dW = x.T @ dz        (D, H)   summed over the batch: the loss already divided by N
        db = sum of dz rows  (H,)
    """
    dx = dz @ W.T if need_dx else None
    return dx, x.T @ dz, dz.sum(axis=0)


def dropout_keep(shape, drop, rng):
    """An 'inverted dropout' mask, as booleans (N, H): True (keep) with probability 1 - drop.

    forward() multiplies the kept activations by 1 / (1 - drop), so the expected
    activation is unchanged and nothing needs rescaling when dropout is off at evaluation.
    (train() draws its masks with dropout_keep_fast, in the appendix: the same odds.)
    """
    return rng.random(shape) >= drop


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
    return np.exp(log_softmax(check_logits(logits)))


def softmax_cross_entropy(logits, labels):
    """Cross-entropy of softmax(logits) against integer class labels, fused.

        loss    = -mean(log_softmax(logits)[n, labels[n]])
        dlogits = (softmax(logits) - onehot(labels)) / N          (N, C)

    The gradient is the softmax *and* its Jacobian already: apply no other softmax
    derivative on top of it.
    """
    logits = check_logits(logits)
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
    outputs = check_logits(outputs)
    error = outputs - check_targets(targets, *outputs.shape, "mse")
    return float((error * error).mean()), error * (2 / error.size)


def binary_cross_entropy(logits, targets):
    """Cross-entropy of sigmoid(logits) against targets in [0, 1], for one output.

        loss    = mean(log(1 + exp(z)) - t * z)  = -mean(t log s + (1 - t) log(1 - s))
        dlogits = (sigmoid(z) - t) / N                             (N, 1)
    log(1 + exp(z)) is computed as max(z, 0) + log1p(exp(-|z|)): no overflow, no log(0).
    """
    logits = check_logits(logits)
    targets = check_targets(targets, *logits.shape, "binary_cross_entropy")
    softplus = np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits)))
    loss = (softplus - targets * logits).mean()
    return float(loss), (sigmoid(logits) - targets) / logits.shape[0]


LOSSES = {
    "cross_entropy": softmax_cross_entropy,
    "mse": mean_squared_error,
    "binary_cross_entropy": binary_cross_entropy,
}


# ---------------------------------------------------------------- the network

def count_layers(params):
    """L, the number of layers: params holds W1, b1, ..., WL, bL."""
    return len(params) // 2


def forward(params, X, activation, dropout=0.0, rng=None, keep=dropout_keep):
    """Run the network on a batch: (logits, cache).

    Hidden layer i:  z{i} = a{i-1} @ W{i} + b{i},  a{i} = activation(z{i})   (a0 = X)
    Last layer L:    logits = a{L-1} @ W{L} + b{L}   (linear; the loss adds softmax)
    With dropout > 0 (training only), each hidden a{i} keeps a random (1 - dropout) share
    of its units, scaled by 1 / (1 - dropout), with masks keep(shape, dropout, rng).
    X (N, D) -> logits (N, C). The cache keeps what backward() needs.
    """
    X, n_layers = check_batch(params, X, activation, dropout, rng)
    f = ACTIVATIONS[activation][0]
    cache = {"activation": activation, "dropout": dropout, "a0": X}
    a = X
    for i in range(1, n_layers):
        z = dense(a, params[f"W{i}"], params[f"b{i}"])                # (N, H_i)
        a = f(z)                                                       # (N, H_i)
        if dropout > 0:
            kept = keep(a.shape, dropout, rng)                         # (N, H_i) bool
            a *= kept
            a *= 1 / (1 - dropout)
            cache[f"keep{i}"] = kept
        cache[f"z{i}"], cache[f"a{i}"] = z, a
    logits = dense(a, params[f"W{n_layers}"], params[f"b{n_layers}"])  # (N, C)
    return logits, cache


def backward(params, cache, dlogits):
    """Backpropagate dlogits = dL/dlogits (N, C) through the network: grads.

    grads has exactly the keys and shapes of params. Walking from the last layer down:
        dW{i}, db{i} from dense_backward(dz{i}, a{i-1}, W{i})
        da{i-1} = dz{i} @ W{i}.T, times the dropout mask and its 1 / (1 - dropout),
        dz{i-1} = activation_backward(da{i-1}, z{i-1})
    dL/dX is never needed, so the first layer skips it (a third of its backward work).
    """
    f_backward = ACTIVATIONS[cache["activation"]][1]
    n_layers = count_layers(params)
    grads = {}
    dz = check_logits(dlogits)                       # a list becomes an array, as in forward
    for i in range(n_layers, 0, -1):
        da, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(
            dz, cache[f"a{i - 1}"], params[f"W{i}"], need_dx=i > 1)
        if i > 1:
            if f"keep{i - 1}" in cache:
                da *= cache[f"keep{i - 1}"]
                da *= 1 / (1 - cache["dropout"])
            dz = f_backward(da, cache[f"z{i - 1}"])                    # (N, H_{i-1})
    return {key: grads[key] for key in params}


# ---------------------------------------------------------------- optimizers
# An optimizer step changes params in place, using grads from backward(). What it must
# remember between steps (the step count t, velocities, running means) lives in `state`,
# a dict that starts empty and is filled on the first step. Each step is written as its
# paper writes it, on whole arrays. (train() runs sgd_step_fast and adam_step_fast, in the
# appendix: the same arithmetic in fewer passes over memory; a test pins them to these.)
#
# Weight decay shrinks each weight matrix W towards zero, W = W - lr * weight_decay * W,
# apart from the gradient step ("decoupled", as in AdamW: Loshchilov & Hutter, 2019).
# For plain SGD that is exactly L2 regularisation, adding (weight_decay / 2) * sum(W**2)
# to the loss; with momentum or Adam it keeps the decay from being rescaled by their step
# sizes. Biases are not decayed.

def sgd_step(params, grads, state, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """Stochastic gradient descent, with momentum or Nesterov's (Sutskever et al., 2013).

    For every parameter P with gradient g:
        v = momentum * v + g                 the velocity (starts at 0)
        P = P - lr * v                       momentum
        P = P - lr * (g + momentum * v)      Nesterov: a look ahead along v
    With momentum = 0 this is plain SGD, P = P - lr * g. Weight decay: see above.
    """
    check_step(params, grads, state, lr, weight_decay, momentum=momentum)
    state["t"] = state.get("t", 0) + 1
    for key, P in params.items():
        g = grads[key]
        if key not in state:
            state[key] = {"v": np.zeros_like(P)}
        v = momentum * state[key]["v"] + g
        state[key]["v"] = v                          # remembered for the next step
        if weight_decay and key.startswith("W"):
            P *= 1 - lr * weight_decay
        if nesterov:
            P -= lr * (g + momentum * v)
        else:
            P -= lr * v


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba, 2015): each parameter's step scaled by its own gradient history.

    For every parameter P with gradient g, at step t = 1, 2, ...:
        m = beta1 * m + (1 - beta1) * g          running mean of g       (starts at 0)
        s = beta2 * s + (1 - beta2) * g**2       running mean of g**2    (starts at 0)
        m_hat = m / (1 - beta1**t)               the means, without their pull towards
        s_hat = s / (1 - beta2**t)               the zeros they started from
        P = P - lr * m_hat / (sqrt(s_hat) + eps)
    Weight decay: see above.
    """
    check_step(params, grads, state, lr, weight_decay, beta1=beta1, beta2=beta2, eps=eps)
    state["t"] = t = state.get("t", 0) + 1
    for key, P in params.items():
        g = grads[key]
        if key not in state:
            state[key] = {"m": np.zeros_like(P), "s": np.zeros_like(P)}
        m = beta1 * state[key]["m"] + (1 - beta1) * g
        s = beta2 * state[key]["s"] + (1 - beta2) * g**2
        state[key]["m"], state[key]["s"] = m, s      # remembered for the next step
        m_hat = m / (1 - beta1**t)
        s_hat = s / (1 - beta2**t)
        if weight_decay and key.startswith("W"):
            P *= 1 - lr * weight_decay
        P -= lr * m_hat / (np.sqrt(s_hat) + eps)


OPTIMIZERS = {"sgd": sgd_step, "adam": adam_step}


SCHEDULES = ("constant", "linear", "cosine")


def scheduled_lr(lr, step, total_steps, schedule="constant", final_lr=0.0):
    """The learning rate for batch `step` (0, 1, ...) of a run of `total_steps` batches.

        constant: lr
        linear:   lr + (final_lr - lr) * step / total_steps
        cosine:   final_lr + (lr - final_lr) * (1 + cos(pi * step / total_steps)) / 2
    Both decays start at lr and end near final_lr: large steps to explore, small to settle.
    """
    progress = step / max(total_steps, 1)
    if schedule == "linear":
        return lr + (final_lr - lr) * progress
    if schedule == "cosine":
        return final_lr + (lr - final_lr) * (1 + math.cos(math.pi * progress)) / 2
    return lr


# ---------------------------------------------------------------- training

def evaluate(params, X, targets, loss="cross_entropy", *, activation, batch_size=1000):
    """(mean loss, accuracy) on X, dropout off, batch_size rows at a time; accuracy is None
    for mse (regression has no classes). Draws no random numbers."""
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("loss", loss, LOSSES)
    check_params(params)
    check_whole("batch_size", batch_size, 1)
    X, targets = check_dataset(params, X, targets, loss, "evaluation")
    total_loss, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        X_batch, targets_batch = X[start:start + batch_size], targets[start:start + batch_size]
        logits, _ = forward(params, X_batch, activation)
        total_loss += LOSSES[loss](logits, targets_batch)[0] * len(X_batch)
        correct += count_correct(logits, targets_batch, loss)
    return total_loss / len(X), (None if loss == "mse" else correct / len(X))


def count_correct(logits, targets, loss):
    """How many rows of logits predict their target's class (0 for the mse loss)."""
    if loss == "cross_entropy":
        return int((logits.argmax(axis=1) == targets).sum())
    if loss == "binary_cross_entropy":
        return int(((logits[:, 0] > 0) == (np.reshape(targets, -1) > 0.5)).sum())
    return 0


def train(params, X, targets, epochs=10, batch_size=32, lr=0.01, optimizer="sgd",
          momentum=None, nesterov=None, beta1=None, weight_decay=0.0, loss="cross_entropy",
          activation="relu", dropout=0.0, schedule="constant", final_lr=0.0,
          X_val=None, targets_val=None, rng=None, augment=None, on_epoch=None,
          on_batch=None, should_stop=None, keep_best=False, patience=None, plain=False):
    """Train params in place by minibatch gradient descent; return the history.

    Each epoch visits the samples of X (N, D) in a new random order, batch_size at a time,
    and on each batch runs the four steps: forward, loss, backward, optimizer step.
        targets      class labels (N,) for loss="cross_entropy", 0/1 labels (N,) for
                     "binary_cross_entropy" (one output), values (N, K) for "mse"
        optimizer    "sgd", with momentum (default 0.9) and nesterov; or "adam", with
                     beta1 (default 0.9); weight_decay: decoupled, for both
        lr           the learning rate, moved by `schedule` ("constant", "linear",
                     "cosine") towards final_lr, batch by batch (see scheduled_lr)
        dropout      the probability of zeroing each hidden unit while training
        X_val, targets_val   measured after every epoch (never trained on)
        rng          a np.random.Generator or an int seed (None: seed 0): the order,
                     the dropout masks and augmentation all draw from it
        augment      augment(X_batch, rng) -> X_batch may change each training batch
        on_epoch     on_epoch(record) after every epoch, e.g. to print it
        on_batch     on_batch(epoch, batch, loss) after every batch's step (a live curve)
        should_stop  asked after every batch; True ends training there
        keep_best    end with the parameters of the epoch with the lowest validation loss
        patience     stop after this many epochs without a lower validation loss (early
                     stopping; Keras' EarlyStopping with restore_best_weights is both)
        plain        step with sgd_step and adam_step and draw masks with dropout_keep,
                     as written above, not with their fast twins (the appendix)
    history: one record per complete epoch (see end_epoch: losses, accuracies, the
    learning rate, the time, each layer's health, and best_epoch, the epoch of the lowest
    validation loss so far); the last record says why training ended ("stopped": "all
    epochs", "patience", "asked") and, with keep_best, which epoch's parameters were kept
    ("kept_epoch"). A loss that turns NaN, infinite or 100 times its start ends training
    with a FloatingPointError that says what to try: the doctor watches every batch.
    """
    settings = {"loss": loss, "activation": activation, "optimizer": optimizer,
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": schedule,
                "final_lr": final_lr, "momentum": momentum, "nesterov": nesterov,
                "beta1": beta1, "weight_decay": weight_decay, "dropout": dropout,
                "augment": augment, "keep_best": keep_best, "patience": patience}
    X, targets, X_val, targets_val = check_training(params, X, targets, X_val, targets_val,
                                                    settings, on_epoch, on_batch, should_stop)
    rng = check_rng(rng)
    if optimizer == "sgd":
        step_settings = {"momentum": 0.9 if momentum is None else momentum,
                         "nesterov": bool(nesterov)}
    else:
        step_settings = {"beta1": 0.9 if beta1 is None else beta1}
    step_fn = OPTIMIZERS[optimizer] if plain else FAST_OPTIMIZERS[optimizer]
    keep = dropout_keep if plain else dropout_keep_fast
    loss_fn, batches = LOSSES[loss], math.ceil(len(X) / batch_size)
    state, history, stopped = {}, [], "all epochs"
    best = {"epoch": 0, "val_loss": math.inf, "params": None}
    watch = new_watch(params, targets, targets_val, batches, settings)    # the doctor's notes
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X))
        for b, start in enumerate(range(0, len(X), batch_size)):
            batch = order[start:start + batch_size]
            X_batch, targets_batch = X[batch], targets[batch]      # the only copy: one batch
            if augment is not None:
                X_batch = check_augmented(augment(X_batch, rng), X_batch)
            lr_now = scheduled_lr(lr, (epoch - 1) * batches + b, epochs * batches,
                                  schedule, final_lr)
            with np.errstate(over="ignore", invalid="ignore"):    # a blow-up is the doctor's
                logits, cache = forward(params, X_batch, activation, dropout, rng, keep)  # 1
                batch_loss, dlogits = loss_fn(logits, targets_batch)                      # 2
                grads = backward(params, cache, dlogits)                                  # 3
            watch_batch(watch, params, grads, cache, batch_loss, logits, targets_batch,
                        epoch, b, lr)                          # the doctor sees the batch
            step_fn(params, grads, state, lr_now, weight_decay=weight_decay, **step_settings)  # 4
            if on_batch is not None:
                on_batch(epoch, b + 1, batch_loss)
            if should_stop is not None and should_stop():
                stopped = "asked"
                break
        if stopped == "asked":
            break
        validation = evaluate(params, X_val, targets_val, loss, activation=activation) \
            if X_val is not None else (None, None)
        if validation[0] is not None and validation[0] < best["val_loss"]:
            best = {"epoch": epoch, "val_loss": validation[0], "params":
                    {key: P.copy() for key, P in params.items()} if keep_best else None}
        history.append(end_epoch(watch, params, epoch, lr_now, validation, best["epoch"]))
        if on_epoch is not None:
            on_epoch(history[-1])
        if patience is not None and epoch - best["epoch"] >= patience:
            stopped = "patience"
            break
    if history:
        history[-1]["stopped"] = stopped
    if keep_best and best["params"] is not None:
        for key, P in params.items():
            P[...] = best["params"][key]                 # in place: the caller's arrays
        history[-1]["kept_epoch"] = best["epoch"]
    return history


# ================================================================ appendix: what can wait
# The heart ends here. What follows serves it: measuring a trained network, checking the
# gradients, the training doctor, saving and loading, running fast, and the checks of
# what comes in. Read on when you need one of them.


# ---------------------------------------------------------------- measuring a trained network

def outputs(params, X, activation, batch_size=1000):
    """The network's outputs (N, C) for X (N, D), dropout off, batch_size rows at a time:
    a classifier's logits (softmax() makes them probabilities; for one output trained
    with binary_cross_entropy, sigmoid() does), or the values of one trained with
    loss="mse". A float64 X is converted chunk by chunk, never copied whole."""
    check_choice("activation", activation, ACTIVATIONS)
    n_layers = check_params(params)
    check_whole("batch_size", batch_size, 1)
    X = check_inputs(X, params)
    result = np.empty((len(X), params[f"W{n_layers}"].shape[1]), dtype=params["W1"].dtype)
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size].astype(params["W1"].dtype, copy=False)
        result[start:start + len(chunk)] = forward(params, chunk, activation)[0]
    return result


def predict(params, X, activation, batch_size=1000):
    """Class predictions (N,): the argmax of the logits, or for one output (trained with
    binary_cross_entropy) 1 where its logit is > 0, probability > 0.5. Regression's values
    come from outputs()."""
    logits = outputs(params, X, activation, batch_size)
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


def accuracy(labels, predictions):
    """The fraction of predictions equal to the labels."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    if labels.size == 0:
        raise ValueError("accuracy of no predictions at all: the arrays are empty")
    return float((labels == predictions).mean())


def confusion_matrix(labels, predictions, n_classes):
    """counts (C, C): counts[t, p] = how often class t was predicted as p. Row t sums to
    the samples of class t; the diagonal holds the right answers."""
    labels = check_labels(labels, len(labels), n_classes)
    predictions = check_labels(predictions, len(labels), n_classes)
    flat = labels * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def precision_recall(counts):
    """Per-class (precision, recall) of a confusion matrix counts[true, predicted]:
        precision[k] = counts[k, k] / counts[:, k].sum()   of those called k, how many are
        recall[k]    = counts[k, k] / counts[k, :].sum()   of those that are k, how many found
    A class never predicted (or never present) gets precision (or recall) 0."""
    correct = np.diag(counts).astype(np.float64)
    predicted, actual = counts.sum(axis=0), counts.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
    return precision, recall


# ---------------------------------------------------------------- the gradient check

def gradient_check(params, X, targets, loss="cross_entropy", *, activation, dropout=0.0,
                   step=1e-5, seed=0, entries=None):
    """Check backward() against numerical differentiation; return the worst relative error.

    Everything is copied to float64. For every entry P[j] of every parameter array P:
        numeric[j] = (L(P[j] + step) - L(P[j] - step)) / (2 * step)     (central difference)
    and error(P) = |analytic - numeric| / (|analytic| + |numeric|), |.| the Euclidean norm
    over the entries checked; the result is the largest error(P). A correct backward gives
    about 1e-9, a wrong one 1e-2 or more; NaN or infinity raises a FloatingPointError. Two
    losses differ exactly only to float64's eps * |L|, so a numeric gradient is exact only
    to about eps * |L| / step: an array whose gradients are far below that (vanishing)
    is judged against 1e5 times it, not against itself, or rounding would look like a bug.
    Two forward passes per entry: for a large network, entries=20 checks 20 of each array.
    With dropout, every pass draws the same masks from default_rng(seed). relu has a kink
    at z = 0 with no derivative: give the biases small random values first.
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("loss", loss, LOSSES)
    check_params(params)
    X = check_inputs(X, params).astype(np.float64)
    params = {key: np.array(value, dtype=np.float64) for key, value in params.items()}

    def loss_and_dlogits():
        logits, cache = forward(params, X, activation, dropout, np.random.default_rng(seed))
        return (*LOSSES[loss](logits, targets), cache)

    start, dlogits, cache = loss_and_dlogits()
    analytic, pick, worst = backward(params, cache, dlogits), np.random.default_rng(seed), 0.0
    rounding = 1e5 * np.finfo(np.float64).eps * max(abs(start), 1) / step    # an entry's
    for key, param in params.items():
        flat = param.reshape(-1)                                   # a view: writes reach param
        checked = np.arange(flat.size)
        if entries is not None and entries < flat.size:
            checked = pick.choice(flat.size, size=entries, replace=False)
        numeric = np.zeros(len(checked))
        for n, j in enumerate(checked):
            saved = flat[j]
            flat[j] = saved + step
            loss_plus = loss_and_dlogits()[0]
            flat[j] = saved - step
            numeric[n] = (loss_plus - loss_and_dlogits()[0]) / (2 * step)
            flat[j] = saved
        exact = analytic[key].reshape(-1)[checked]
        for name, values in (("analytic", exact), ("numeric", numeric)):
            if not np.isfinite(values).all():
                raise FloatingPointError(f"gradient check of {key}: NaN or infinity in the "
                                         f"{name} gradient; check the targets and backward()")
        scale = np.linalg.norm(exact) + np.linalg.norm(numeric)
        scale = max(scale, rounding * math.sqrt(len(checked)))
        worst = max(worst, float(np.linalg.norm(exact - numeric) / scale))
    return worst


# ---------------------------------------------------------------- the training doctor
# What experts check by hand when a network will not learn, as code: train() keeps notes
# on every layer (the watch), diagnose() reads them in the history, a small function a
# rule; sanity_check() tries the setup before a long run, find_lr() finds a learning rate.
# Each threshold is a rule of thumb with its source, a reason to look closer, not a law:
# CS231n, "Neural Networks Part 3" (Karpathy et al.); Karpathy, "A Recipe for Training
# Neural Networks" (2019); Smith, "Cyclical Learning Rates" (2017).

WATCHED_BATCHES = 40       # the watch measures about this many batches an epoch, and on
WATCHED_ENTRIES = 1 << 16  # this many entries of each W: as good as all, and cheaper
# A sigmoid or tanh unit is saturated within 0.01 of a flat end, where its slope is nearly
# 0 and it stops learning: sigmoid(4.6) = 0.990, tanh(2.65) = 0.990.
SATURATED_Z = {"sigmoid": 4.6, "tanh": 2.65}
# Batch-to-batch noise moves a loss by tens of per cent, not a hundredfold: that happens
# when each step throws the weights further than the last. The start is never taken below
# chance_loss, so that a resumed good model is not stopped by one ordinary bad batch.
DIVERGED_FACTOR = 100
# CS231n: "the ratio of the update magnitudes to the value magnitudes ... should be
# somewhere around 1e-3 ... if it is lower than this then the learning rate might be too
# low. If it is higher then the learning rate is likely too high", read in epoch 1, where
# a decaying schedule's rate is highest, as the median over the layers. Healthy runs sit a
# few times above 1e-3 (UPDATE_RATIO_AIM, where a resized rate aims), so the alarms are
# far out: 50x above, where training at find_lr's suggestion never goes; 10x above when
# units died, saturated or the weights grew WEIGHTS_GROWN times (the steps' work); 3x
# below while the training loss is still above a tenth of chance.
UPDATE_RATIO_GOOD, UPDATE_RATIO_AIM, UPDATE_RATIO_HIGH = 1e-3, 3e-3, 5e-2
UPDATE_RATIO_HURTING, UPDATE_RATIO_LOW, WEIGHTS_GROWN = 1e-2, 1e-3 / 3, 3
DEAD_SHARE = SATURATED_SHARE = 0.25  # CS231n: "as much as 40% of your network can be dead"
VANISHING_RATIO = 1e-2     # the first layer's gradients 100x smaller than the last layer's
# Memorising: training accuracy 5 points above validation and the gap widening, the
# training loss under a quarter of chance; or (regression) the validation loss 10% above
# its lowest while the training loss fell.
MEMORISING_GAP, RISEN = 0.05, 1.1
# Too strong a regulariser keeps a network from fitting even its training data (Goodfellow
# et al., 2016, table 11.1: less dropout and a smaller weight decay raise capacity): the
# training accuracy, measured with dropout on, 10 points below validation's; a decoupled
# decay that shrinks the weights each step by more than a healthy step moves them
# (lr * weight_decay > UPDATE_RATIO_GOOD) while they shrank below half their start.
# Srivastava et al. (2014) found dropout 0.5 close to best for hidden units.
REGULARISED_GAP, WEIGHTS_SHRUNK = 0.10, 0.5
# A network learns in steps, not epochs: a run of fewer than MIN_STEPS batches whose loss
# still fell by STILL_FALLING in its last epoch has not had time to learn (Smith, 2018: a
# loss still falling at the end is underfitting). Both values were chosen on the tuning
# half of extras/broken_runs.py.
MIN_STEPS, STILL_FALLING = 500, 0.05
# Targets far from mean 0, std 1 make the first steps huge or tiny (LeCun et al., 1998,
# "Efficient BackProp": what holds for the inputs holds for the outputs).
TARGET_SCALE = 10


def new_watch(params, targets, targets_val, batches_per_epoch, settings):
    """The notes train() keeps on a run for the doctor: the run's settings (see
    run_settings), the size of each W before any step, and the epoch's sums, which
    start_epoch() zeroes."""
    watch = {"loss": settings["loss"], "activation": settings["activation"],
             "every": max(1, batches_per_epoch // WATCHED_BATCHES), "reference": None,
             "settings": run_settings(params, targets, targets_val, settings),
             "initial_weight_rms": [rms(params[f"W{i}"])
                                    for i in range(1, count_layers(params) + 1)]}
    return start_epoch(watch, params)


def start_epoch(watch, params):
    """watch, with the epoch's sums zeroed and its clock started."""
    hidden = [params[f"W{i}"].shape[1] for i in range(1, count_layers(params))]
    watch.update({"started": time.perf_counter(), "samples": 0, "total_loss": 0.0,
                  "correct": 0, "batches": 0, "steps": 0, "watched_samples": 0,
                  "before_step": None,
                  "grad_rms": np.zeros(len(hidden) + 1), "update_ratio": np.zeros(len(hidden) + 1),
                  "fired": [np.zeros(h, dtype=bool) for h in hidden],
                  "saturated": [np.zeros(h, dtype=np.int64) for h in hidden]})
    return watch


def watch_batch(watch, params, grads, cache, batch_loss, logits, targets, epoch, batch, lr):
    """The doctor's look at a batch, between backward() and the optimizer step: stop a
    run whose loss diverged (check_divergence); add the batch's loss and right answers
    to the epoch's sums; and on every watch["every"]-th batch, each layer's rms(dW), the
    units that fired (z > 0 on some sample: relu units that never fire are dead), the
    samples that put each unit at a flat end (sigmoid, tanh), and a copy of the watched
    entries of each W, whose change the next look (or end_epoch) measures: the step
    actually taken, momentum's and Adam's included."""
    check_divergence(watch, batch_loss, logits, epoch, batch + 1, lr)
    measure_step(watch, params)
    watch["samples"] += len(logits)
    watch["total_loss"] += batch_loss * len(logits)
    watch["correct"] += count_correct(logits, targets, watch["loss"])
    if batch % watch["every"]:
        return
    watch["batches"] += 1
    watch["watched_samples"] += len(logits)
    n_layers = count_layers(params)
    for i in range(1, n_layers + 1):
        watch["grad_rms"][i - 1] += rms(watched_entries(grads[f"W{i}"]))
    for i in range(1, n_layers):
        z = cache[f"z{i}"]                                            # (N, H_i)
        watch["fired"][i - 1] |= z.max(axis=0) > 0
        if cache["activation"] in SATURATED_Z:
            watch["saturated"][i - 1] += (np.abs(z) > SATURATED_Z[cache["activation"]]).sum(axis=0)
    watch["before_step"] = [watched_entries(params[f"W{i}"]).copy()
                            for i in range(1, n_layers + 1)]


def measure_step(watch, params):
    """Add rms(change) / rms(W) of each layer to the epoch's sums, if a watched batch left
    a copy of the weights from before its step."""
    if watch["before_step"] is None:
        return
    for i, weights_before in enumerate(watch["before_step"], start=1):
        weight_rms = rms(weights_before)
        weights_before -= watched_entries(params[f"W{i}"])          # minus the step taken
        watch["update_ratio"][i - 1] += rms(weights_before) / max(weight_rms, 1e-30)
    watch["steps"] += 1
    watch["before_step"] = None


def check_divergence(watch, batch_loss, logits, epoch, batch, lr):
    """Raise a FloatingPointError that says what to try if batch_loss is NaN, infinite or
    DIVERGED_FACTOR times the reference, which the first call sets."""
    if watch["reference"] is None:
        watch["initial_loss"] = batch_loss
        watch["chance_loss"] = chance_loss(watch["loss"], logits.shape[1])
        watch["reference"] = max(batch_loss, watch["chance_loss"] or 0)
    if batch_loss <= DIVERGED_FACTOR * watch["reference"]:          # (False for NaN)
        return
    seen = (f"the loss became {batch_loss:.3g} at epoch {epoch}, batch {batch} (it started "
            f"near {watch['reference']:.3g}): training diverged.")
    if logits.dtype == np.float16:
        raise FloatingPointError(seen + " The parameters are float16, whose largest number "
                                 "is 65504: activations and gradients overflow it. Use "
                                 "float32 (init_params' default).")
    run = watch["settings"]
    if target_scale(run):
        raise FloatingPointError(seen + f" The targets have mean {run['target_mean']:.3g} and "
                                 f"std {run['target_std']:.3g}, far from the outputs' 0 and 1: "
                                 f"scale them to mean 0, std 1 (t = (y - mean) / std; predict "
                                 f"y = t * std + mean), as the inputs.")
    raise FloatingPointError(seen + f" The steps are too large for this network: try "
                             f"lr={float(f'{lr / 10:.3g}')}, 10x lower than now, or find "
                             f"one with find_lr(); and check that the inputs are scaled "
                             f"(e.g. to [0, 1] or to mean 0, std 1).")


def chance_loss(loss, n_outputs):
    """The loss of a network that knows nothing yet and says so: ln(C) for C classes,
    ln(2) for a yes/no output; None for mse (it depends on the targets' scale)."""
    return {"cross_entropy": math.log(n_outputs), "binary_cross_entropy": math.log(2)}.get(loss)


def run_settings(params, targets, targets_val, settings):
    """What the doctor must know of a run so as not to prescribe what is on: train()'s
    settings, whether it augmented, the layer sizes, the samples (for the steps a run
    takes), and for mse the targets' mean and std, and the validation loss of always
    predicting the training targets' mean (the baseline a regression must beat)."""
    run = dict(settings, augment=settings["augment"] is not None,
               nesterov=bool(settings["nesterov"]),
               momentum=0.9 if settings["momentum"] is None else settings["momentum"],
               beta1=0.9 if settings["beta1"] is None else settings["beta1"],
               sizes=layer_sizes(params),
               samples=len(targets))
    if settings["loss"] == "mse":
        mean = np.mean(targets, axis=0)
        run.update(target_mean=float(np.mean(targets)), target_std=float(np.std(targets)),
                   baseline_loss=None if targets_val is None else
                   float(np.mean((np.asarray(targets_val) - mean) ** 2)))
    return run


def end_epoch(watch, params, epoch, lr, validation, best_epoch):
    """The history's record of an epoch, from the watch's sums (which start again): the
    epoch; loss and train_accuracy, as the batches were trained (dropout on; accuracy None
    for mse); val_loss and val_accuracy, or None; best_epoch, that of the lowest val_loss
    so far; lr; seconds; samples_per_second; and layers, each one's weight_rms, grad_rms,
    update_ratio, and dead (relu) or saturated (sigmoid, tanh) share of units, else None.
    The first record also holds initial_loss (before any step), chance_loss,
    initial_weight_rms (each W's before any step) and settings (see run_settings)."""
    measure_step(watch, params)                          # the epoch's last watched step
    seconds, n_layers = time.perf_counter() - watch["started"], count_layers(params)
    activation = watch["activation"]
    layers = [{"layer": i, "weight_rms": rms(params[f"W{i}"]),
               "grad_rms": float(watch["grad_rms"][i - 1] / watch["batches"]),
               "update_ratio": float(watch["update_ratio"][i - 1] / max(watch["steps"], 1)),
               "dead": 1 - float(watch["fired"][i - 1].mean())
               if i < n_layers and activation == "relu" else None,
               "saturated": float((watch["saturated"][i - 1] > watch["watched_samples"] / 2).mean())
               if i < n_layers and activation in SATURATED_Z else None}
              for i in range(1, n_layers + 1)]
    record = {"epoch": epoch, "loss": watch["total_loss"] / watch["samples"],
              "train_accuracy": None if watch["loss"] == "mse" else
              watch["correct"] / watch["samples"],
              "val_loss": validation[0], "val_accuracy": validation[1],
              "best_epoch": best_epoch if validation[0] is not None else None, "lr": lr,
              "seconds": seconds, "samples_per_second": watch["samples"] / seconds,
              "layers": layers}
    if epoch == 1:
        record.update(initial_loss=watch["initial_loss"], chance_loss=watch["chance_loss"],
                      initial_weight_rms=watch["initial_weight_rms"], settings=watch["settings"])
    start_epoch(watch, params)
    return record


def rms(array):
    """Root mean square: sqrt(mean(array**2)), the typical size of an entry."""
    return math.sqrt(float(np.vdot(array, array)) / max(array.size, 1))


def watched_entries(W):
    """Every k-th entry of W, at most WATCHED_ENTRIES, spread over all its rows (a view)."""
    return W.reshape(-1)[::max(1, W.size // WATCHED_ENTRIES)]


def diagnose(history):
    """What looks wrong in a run, from train()'s history: a list of findings (see finding),
    fitted to the run's settings, never prescribing what is already on; an empty list
    when nothing looks wrong. The likeliest cause comes first: the rules are asked in the
    order of cause and effect. A run that starts wrong (the loss at start, the targets'
    scale); a learning rate too high, whose steps kill or saturate units and so starve
    the first layers (dropout that breaks the network, the units and vanishing gradients
    are named as causes only when the rate is not to blame); the network's shape; a rate
    too low, or too few steps; regularisers too strong (a network still learning fast
    lags on its training batches too, so they are asked only when nothing above explains
    it); then how training and validation compare."""
    if not history:
        return []
    run = history[0].get("settings", {})
    if not all(math.isfinite(record["loss"]) for record in history):
        return [finding("loss not finite", f"the loss reached "
                        f"{max(record['loss'] for record in history)}",
                        "the steps are too large, so the weights grow until they overflow",
                        [new_lr(run, 1 / 10), advice("inputs scaled to [0, 1]")])]
    found = loss_at_start(history) + target_scale(run)
    rate = rate_too_high(history, run)
    found += rate or (dropout_mismatch(history, run) + units(history, run)
                      + vanishing(history, run))
    found += too_narrow(history, run)
    found += [] if found else rate_too_low(history, run) or too_few_steps(history, run)
    found += [] if found else too_regularised(history, run)
    found += fitting(history, run)
    return found or underfitting(history, run) or not_learning(history)


def finding(check, seen, cause, remedies):
    """One finding: "check" (a short name), "seen" (the numbers), "cause" (a sentence) and
    "remedies", the most promising first, each with "say", in nn.py's argument names, and
    where it changes a setting "set" ({"lr": 0.0002}: values train() or init_params()
    accept), or "setting", a setting of train() whose value only the caller can write (an
    augment function), so that a program with flags of its own (mnist.py) can say it its
    own way; "try" says them all."""
    return {"check": check, "seen": seen, "cause": cause, "remedies": remedies,
            "try": "; ".join(remedy["say"] for remedy in remedies)}


def change(**settings):
    """A remedy that changes train()'s or init_params()' settings: lr=0.0002."""
    return {"say": ", ".join(f"{key}={value!r}" for key, value in settings.items()),
            "set": settings}


def advice(text, setting=None):
    """A remedy that is no value to set: more data, fewer layers; or with setting, the
    name of the train() setting the caller must write for it ("augment")."""
    return {"say": text} if setting is None else {"say": text, "setting": setting}


def new_lr(run, factor):
    """A learning rate `factor` times the run's, rounded to one digit."""
    if "lr" not in run:                          # a history made by hand, without settings
        return advice(f"a learning rate {max(factor, 1 / factor):.0f}x "
                      f"{'higher' if factor > 1 else 'lower'}")
    return change(lr=float(f"{run['lr'] * factor:.1g}"))


def loss_at_start(history):
    """Karpathy, "verify loss @ init": He-initialised networks start a little above ln(C),
    output weights 100x too large 10x above it. The alarm: 3x away, either way; the first
    batch trains with dropout on, whose 1 / (1 - dropout) scaling of the kept units makes
    the logits, and a wrong answer's loss, up to that much larger: the upper bound too."""
    initial, chance = history[0].get("initial_loss"), history[0].get("chance_loss")
    widened = 1 / (1 - (history[0].get("settings", {}).get("dropout") or 0))
    if not chance or initial is None or chance / 3 < initial < 3 * chance * widened:
        return []
    return [finding("loss at start", f"the loss before any step was {initial:.3g}; a network "
                    f"that knows nothing yet should start near ln(C) = {chance:.3g}, within 3x",
                    *START_ADVICE)]


START_ADVICE = ("the outputs start too large or too small: the last layer's weights are scaled "
                "wrongly, or the inputs are not scaled",
                [advice("init_params' own he/glorot scaling, unchanged"),
                 advice("inputs scaled to [0, 1] or to mean 0, std 1")])


def target_scale(run):
    """Regression targets far from mean 0, std 1."""
    if run.get("loss") != "mse" or (abs(run["target_mean"]) < TARGET_SCALE and
                                    1 / TARGET_SCALE < run["target_std"] < TARGET_SCALE):
        return []
    return [finding("target scale", f"the targets have mean {run['target_mean']:.3g} and std "
                    f"{run['target_std']:.3g}", "the network's outputs start near 0 with a "
                    "spread near 1, so it spends its steps, and its first layers' scale, on "
                    "reaching the targets' range", [advice(
                        "targets scaled to mean 0, std 1 (t = (y - mean) / std; predict "
                        "y = t * std + mean)")])]


def middle(values):
    """The median of values (of an even count, the upper of the two middle ones)."""
    return sorted(values)[len(values) // 2]


def epoch_one_ratio(history):
    """The median over the layers of epoch 1's update ratios."""
    return middle([layer["update_ratio"] for layer in history[0]["layers"]])


def weight_growth(history):
    """Each W's size (rms) at the end over its size before any step ([1.0] unknown)."""
    start = history[0].get("initial_weight_rms")
    if not start:
        return [1.0]
    return [layer["weight_rms"] / max(size, 1e-30)
            for layer, size in zip(history[-1]["layers"], start)]


def hurt_units(history):
    """Each hidden layer's share of dead or saturated units in the last epoch, with its
    name, for the layers past DEAD_SHARE or SATURATED_SHARE."""
    return [(layer["layer"], layer["dead"], "dead") if (layer["dead"] or 0) > DEAD_SHARE
            else (layer["layer"], layer["saturated"], "saturated")
            for layer in history[-1]["layers"]
            if (layer["dead"] or 0) > DEAD_SHARE or (layer["saturated"] or 0) > SATURATED_SHARE]


def rate_too_high(history, run):
    """A learning rate far too high (CS231n's update ratio 50x above 1e-3), or 10x too high
    with its damage seen: the weights grown several times, or units dead or saturated in
    a layer whose own steps were that large."""
    ratio, grown, hurt = epoch_one_ratio(history), max(weight_growth(history)), hurt_units(history)
    steps = {layer["layer"]: layer["update_ratio"] for layer in history[0]["layers"]}
    hurt = [(layer, share, kind) for layer, share, kind in hurt
            if steps[layer] > UPDATE_RATIO_HURTING]
    if ratio <= UPDATE_RATIO_HIGH and not hurt and not (
            ratio > UPDATE_RATIO_HURTING and grown > WEIGHTS_GROWN):
        return []
    damage = [f"{100 * share:.0f}% of layer {layer}'s units "
              f"{'were dead' if kind == 'dead' else 'sat at a flat end'}"
              for layer, share, kind in hurt]
    if grown > WEIGHTS_GROWN:
        damage.append(f"the weights grew to {grown:.0f}x their starting size")
    if any(kind == "dead" for *_, kind in hurt):
        others = [change(activation="leaky_relu")]
    elif hurt and run.get("activation") in SATURATED_Z:
        others = [change(activation="relu", init="he")]
    else:
        others = []
    return [finding(
        "learning rate too high", f"each step changed the weights by {ratio:.1e} of their "
        f"size in epoch 1 (about 1e-3 is healthy)" + "".join(f"; {text}" for text in damage),
        "the learning rate is too high: steps overshoot" + (
            ", and throw units where their slope is 0 (a dead relu, a saturated sigmoid or "
            "tanh), where they stop learning and starve the layers below" if damage else
            " and undo each other"),
        [new_lr(run, UPDATE_RATIO_AIM / ratio), *others, advice("measure one: find_lr()")])]


def units(history, run):
    """Dead relu units, and sigmoid or tanh units stuck at a flat end, in the last epoch,
    when the learning rate is not to blame (rate_too_high names them then)."""
    found = []
    for layer, share, kind in hurt_units(history):
        if kind == "dead":
            found.append(finding(
                "dead units", f"{100 * share:.0f}% of layer {layer}'s relu units never fired "
                f"in the last epoch (on the batches watched)", "a too-large step pushed their "
                "biases and weights where z < 0 for every input; then their gradient is 0 "
                "and they never recover", [new_lr(run, 1 / 10), change(activation="leaky_relu")]))
        else:
            found.append(finding(
                "saturated units", f"{100 * share:.0f}% of layer {layer}'s units sat at a "
                f"flat end of their activation on most samples", "large inputs to "
                "sigmoid/tanh, where the slope is almost 0: those units stop learning",
                [change(activation="relu", init="he"), advice("inputs scaled to mean 0, std 1")]))
    return found


def vanishing(history, run):
    """The first layer's gradients far smaller than the last layer's, in epoch 1."""
    gradients = [layer["grad_rms"] for layer in history[0]["layers"]]
    if len(gradients) < 3 or gradients[0] >= VANISHING_RATIO * gradients[-1]:
        return []
    return [finding(
        "vanishing gradients", f"in epoch 1 the first layer's gradients (rms "
        f"{gradients[0]:.1e}) were {gradients[-1] / max(gradients[0], 1e-30):,.0f}x smaller "
        f"than the last layer's ({gradients[-1]:.1e})", "each sigmoid/tanh layer multiplies "
        "the gradient by its slope (at most 0.25 for sigmoid), so deep stacks of them starve "
        "the first layers", ([change(activation="relu", init="he")]
                             if run.get("activation") not in ("relu", "leaky_relu") else [])
        + [advice("fewer layers")])]


def dropout_mismatch(history, run):
    """Validation accuracy below training's, though training's is measured with dropout on
    and its loss is far from a fit: the network does worse with all its units than with
    dropout's share of them."""
    first, last = history[0], history[-1]
    if len(history) < 2 or last.get("val_accuracy") is None or not run.get("dropout") or \
            first.get("chance_loss") is None or last["loss"] < first["chance_loss"] / 4:
        return []
    gap = last["train_accuracy"] - last["val_accuracy"]
    if gap <= MEMORISING_GAP or gap <= first["train_accuracy"] - first["val_accuracy"]:
        return []
    return [finding(
        "dropout too strong", f"validation accuracy {100 * last['val_accuracy']:.1f}% is "
        f"below training's {100 * last['train_accuracy']:.1f}% (measured with dropout on), "
        f"though the training loss {last['loss']:.3g} is still far from 0", "the network "
        "does not even fit its training data, and does worse with all its units on than "
        "with dropout: dropout in every layer of a deep, narrow network changes each "
        "layer's input too much between training and use",
        [change(dropout=0), change(dropout=round(run["dropout"] / 3, 2))])]


def too_narrow(history, run):
    """A hidden layer with fewer units than there are classes: every class must pass
    through it, so classes share its few directions and the layers after it cannot tell
    them apart (Goodfellow et al., 2016, 11.4.1: more hidden units, more capacity). The
    remedy widens it to WIDE_ENOUGH times the classes, a power of two."""
    sizes = run.get("sizes")
    if run.get("loss") != "cross_entropy" or not sizes:
        return []
    classes, hidden = sizes[-1], sizes[1:-1]
    narrow = [(i, units) for i, units in enumerate(hidden, start=1) if units < classes]
    if not narrow:
        return []
    width = 1 << math.ceil(math.log2(WIDE_ENOUGH * classes))
    wider = [sizes[0]] + [max(units, width) if units < classes else units for units in hidden] \
        + [classes]
    last = history[-1]
    return [finding(
        "layer too narrow", " and ".join(f"hidden layer {i} has {units} units" for i, units
                                         in narrow) + f" for {classes} classes; training "
        f"accuracy {100 * last['train_accuracy']:.1f}%", "every class must pass through the "
        "narrow layer, and fewer units than classes cannot keep them apart: the network is "
        "too small to fit even its training data", [change(sizes=wider)])]


WIDE_ENOUGH = 4      # units a class in a widened layer: room for a few features each


def too_regularised(history, run):
    """Weight decay or dropout so strong that the network cannot fit its training data;
    the decay first, whose shrunken weights are the surer sign (it lowers the training
    accuracy too)."""
    last = history[-1]
    dropout, decay, lr = run.get("dropout") or 0, run.get("weight_decay") or 0, run.get("lr")
    shrunk = middle(weight_growth(history))               # the median layer's size
    if decay > 0 and lr and lr * decay > UPDATE_RATIO_GOOD and shrunk < WEIGHTS_SHRUNK:
        return [finding(
            "weight decay too strong", f"each step shrinks the weights by lr * weight_decay "
            f"= {lr * decay:.2g} of their size, more than a healthy step moves them (1e-3); "
            f"they shrank to {shrunk:.2f} of their starting size",
            "the decay pulls the weights to zero faster than the gradient can grow them, so "
            "the network cannot fit its training data",
            [change(weight_decay=float(f"{UPDATE_RATIO_GOOD / 10 / lr:.1g}")),
             change(weight_decay=0)])]
    if dropout > 0 and last.get("val_accuracy") is not None and \
            last["train_accuracy"] < last["val_accuracy"] - REGULARISED_GAP:
        return [finding(
            "dropout too strong", f"training accuracy {100 * last['train_accuracy']:.1f}% "
            f"(measured with dropout {dropout:g} on) stays "
            f"{100 * (last['val_accuracy'] - last['train_accuracy']):.0f} points below "
            f"validation's {100 * last['val_accuracy']:.1f}%", "so many units are dropped "
            "that the network cannot fit even its training data: dropout holds it far below "
            "what it could learn", [change(dropout=round(dropout / 3, 1)), change(dropout=0)])]
    return []


def rate_too_low(history, run):
    """CS231n's update ratio 3x or more below 1e-3 in epoch 1, while the training loss is
    still above a tenth of chance: the steps are too small to get anywhere."""
    ratio, chance, last = epoch_one_ratio(history), history[0].get("chance_loss"), history[-1]
    if ratio >= UPDATE_RATIO_LOW or (chance and last["loss"] < chance / 10) or \
            vanishing(history, run):             # (then a higher rate would only blow up
        return []                                # the last layers)
    return [finding(
        "learning rate too low", f"each step changed the weights by only {ratio:.1e} of "
        f"their size in epoch 1 (about 1e-3 is healthy), and the training loss is still "
        f"{last['loss']:.3g}", "the learning rate is too low: the network barely moves",
        [new_lr(run, UPDATE_RATIO_AIM / ratio), advice("measure one: find_lr()")])]


def too_few_steps(history, run):
    """A run of fewer than MIN_STEPS batches whose loss was still falling at its end, and
    still above a tenth of chance (a small data set is learned in few steps); of a run
    still going (its last record says nothing of how it stopped), the batches planned."""
    if "batch_size" not in run or "samples" not in run or run.get("epochs") is None:
        return []                                # (None: a run with no end, a playground's)
    batches, epochs = math.ceil(run["samples"] / run["batch_size"]), run["epochs"]
    steps = batches * (len(history) if "stopped" in history[-1] else epochs)   # live: planned
    before = history[-2]["loss"] if len(history) > 1 else history[0].get("initial_loss")
    chance = history[0].get("chance_loss")
    if steps >= MIN_STEPS or before is None or history[-1]["loss"] > (1 - STILL_FALLING) * before \
            or (chance and history[-1]["loss"] < chance / 10):
        return []
    batch_size = 1 << int(math.log2(max(run["samples"] * epochs / MIN_STEPS, 1)))
    more_epochs = change(epochs=math.ceil(MIN_STEPS / batches))
    remedies = [change(batch_size=batch_size), more_epochs] \
        if 32 <= batch_size < run["batch_size"] else [more_epochs]
    return [finding(
        "too little training", f"{steps} steps in all ({len(history)} epoch"
        f"{'s' if len(history) > 1 else ''} of {batches} "
        f"batches of {run['batch_size']}), and the loss still fell from {before:.3g} to "
        f"{history[-1]['loss']:.3g} in the last epoch", "the network learns a little at "
        "each step, and the run ended long before it had learned what it could", remedies)]


def underfitting(history, run):
    """CS231n: "validation accuracy tracks the training accuracy fairly well ... your model
    capacity is not high enough": training accuracy close to validation's, the training
    loss above a quarter of chance and no longer falling (asked when nothing else fired)."""
    last, chance = history[-1], history[0].get("chance_loss")
    if len(history) < 2 or not chance or last.get("val_accuracy") is None or \
            last["loss"] < chance / 4 or \
            last["loss"] < (1 - STILL_FALLING) * history[-2]["loss"] or \
            abs(last["train_accuracy"] - last["val_accuracy"]) > MEMORISING_GAP:
        return []
    sizes = run.get("sizes")
    wider = [change(sizes=[sizes[0]] + [2 * units for units in sizes[1:-1]] + [sizes[-1]])] \
        if sizes and len(sizes) > 2 else [advice("more or wider layers")]
    return [finding(
        "underfitting", f"training accuracy {100 * last['train_accuracy']:.1f}% and "
        f"validation {100 * last['val_accuracy']:.1f}%, with the loss flat at "
        f"{last['loss']:.3g}", "the network does as badly on what it trained on as on new "
        "samples: it is too small for the task, or learns too slowly",
        wider + [new_lr(run, 3)])]


def not_learning(history):
    """Karpathy, "overfit one batch": a run that cannot cut its own training loss by a
    tenth is not learning at all (asked only when no other finding says why)."""
    start, last = history[0].get("initial_loss", history[0]["loss"]), history[-1]["loss"]
    if len(history) < 2 or last <= 0.9 * start:
        return []
    return [finding("not learning", f"the training loss went from {start:.3g} to only "
                    f"{last:.3g}", "the learning rate is too low, or the network is too small "
                    "for the task", [advice("a higher learning rate (find_lr())"),
                                     advice("more or wider layers"), advice("sanity_check()")])]


def fitting(history, run):
    """How training and validation compare: memorising, dropout too strong, past its best,
    worse than predicting the mean; from the accuracies, or for regression the losses.
    The best epoch is the one of the lowest validation loss, the one keep_best keeps."""
    first, last, found = history[0], history[-1], []
    if last.get("val_loss") is None or len(history) < 2:
        return []
    losses = [record["val_loss"] for record in history]
    accuracies = [record["val_accuracy"] for record in history]
    regression = last["val_accuracy"] is None
    best = int(np.argmin(losses))                               # counted from epoch 0
    gap = None if regression else last["train_accuracy"] - last["val_accuracy"]
    if regression and losses[-1] > RISEN * losses[best] and last["loss"] < history[best]["loss"]:
        found.append(finding(
            "memorising", f"the validation loss was lowest in epoch {best + 1} "
            f"({losses[best]:.3g}) and ended at {losses[-1]:.3g}, while the training loss "
            f"fell from {history[best]['loss']:.3g} to {last['loss']:.3g}", MEMORISING,
            regularisers(run)))
    elif not regression and gap > MEMORISING_GAP and \
            gap > first["train_accuracy"] - first["val_accuracy"] and \
            (first.get("chance_loss") is None or last["loss"] < first["chance_loss"] / 4):
        found.append(finding(
            "memorising", f"training accuracy {100 * last['train_accuracy']:.1f}% but "
            f"validation {100 * last['val_accuracy']:.1f}%, and the gap is growing",
            MEMORISING, regularisers(run)))
    if len(history) >= 4 and best <= len(history) - 3 and not run.get("keep_best") and (
            (regression and found) or (not regression and accuracies[-1] < accuracies[best] - 0.005)):
        found.append(finding(
            "past its best", f"the validation loss was lowest in epoch {best + 1}" + (
                "" if regression else f", with accuracy {100 * accuracies[best]:.2f}%, which "
                f"ended at {100 * accuracies[-1]:.2f}%"),
            "training went on after the network stopped generalising better",
            [change(keep_best=True), change(epochs=best + 1)]))
    if regression and run.get("baseline_loss") is not None and losses[-1] > run["baseline_loss"]:
        found.append(finding(
            "worse than the mean", f"the validation loss {losses[-1]:.3g} is above "
            f"{run['baseline_loss']:.3g}, the validation loss of always predicting the "
            f"training targets' mean", "the network has learned less than nothing that carries "
            "over to new samples", [advice("see the other findings; if there are none, a lower "
                                      "learning rate and fewer epochs")]))
    return found


MEMORISING = "the network learns the training samples by heart instead of what they have in common"


def regularisers(run):
    """Remedies for memorising that the run does not use yet, strongest first."""
    remedies = []
    if not run.get("augment"):
        remedies.append(advice("augment=a function that varies each batch (shifts, small "
                               "turns, noise)", setting="augment"))
    if run.get("dropout", 0) < 0.5:
        remedies.append(change(dropout=0.3 if run.get("dropout", 0) < 0.3 else 0.5))
    if not run.get("keep_best"):
        remedies.append(change(keep_best=True))
    return remedies + [advice("more data, or a smaller network")]


def sanity_check(params, X, targets, loss="cross_entropy", *, activation, n_samples=50,
                 steps=150, optimizer="adam", lr=1e-3, momentum=None, beta1=None, rng=None):
    """Checks to run before a long training, on copies (params are left as they were): a
    list of {"check", "passed", "seen"}, and for a failed one its likely "cause" and
    "remedies" (as a finding's). From Karpathy's recipe ("verify loss @ init", "overfit
    one batch", "input-independent baseline") and CS231n's gradient checks:
        loss at start  the loss at initialisation is within 3x of chance_loss(), ln(C)
        overfit        n_samples samples learned to 100% accuracy (mse: to 1% of their
                       starting loss) in at most `steps` full-batch steps of the run's
                       own optimizer, lr, and momentum or beta1, as train() takes them;
                       healthy setups take 5 to 100 (on MNIST: Adam 8, SGD 12 to 29,
                       sigmoid with SGD 103), one with its rate 100x too low about 300
        uses inputs    the same training on all-zero inputs ends at twice the loss or more
        gradients      gradient_check() on 5 samples, 20 entries per array, below 1e-4
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("loss", loss, LOSSES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    n_layers = check_params(params)
    settings = optimizer_settings(optimizer, momentum, None, beta1)
    check_rate("lr", lr)
    X, targets = check_dataset(params, X, targets, loss, "sanity check")
    chosen = check_rng(rng).choice(len(X), size=min(n_samples, len(X)), replace=False)
    X_small, targets_small = X[chosen], targets[chosen]
    results = []

    def result(check, passed, seen, cause, remedies):
        results.append({"check": check, "passed": bool(passed), "seen": seen} |
                       ({} if passed else {"cause": cause, "remedies": remedies}))

    start_loss = evaluate(params, X_small, targets_small, loss, activation=activation)[0]
    chance = chance_loss(loss, params[f"W{n_layers}"].shape[1])
    if chance is not None:
        result("loss at start", chance / 3 < start_loss < 3 * chance,
               f"{start_loss:.3f} at initialisation; ln(C) = {chance:.3f}", *START_ADVICE)

    def overfit(inputs):
        """Full-batch steps on (inputs, targets_small): (learned, steps, loss, accuracy)."""
        copy, state = copy_params(params), {}
        for taken in range(steps + 1):
            with np.errstate(over="ignore", invalid="ignore"):      # a rate too high: NaN
                logits, cache = forward(copy, inputs, activation)
                value, dlogits = LOSSES[loss](logits, targets_small)
            correct = count_correct(logits, targets_small, loss) / len(inputs)
            learned = correct == 1 if loss != "mse" else value < start_loss / 100
            if learned or taken == steps or not math.isfinite(value):
                return learned, taken, value, correct
            OPTIMIZERS[optimizer](copy, backward(copy, cache, dlogits), state, lr, **settings)

    logits, cache = forward(params, X_small[:5], activation)
    grads = backward(params, cache, LOSSES[loss](logits, targets_small[:5])[1])
    vanishing = rms(grads[f"W{n_layers}"]) / max(rms(grads["W1"]), 1e-300)    # x smaller
    vanishing = f"{vanishing:,.0f}x" if n_layers >= 3 and vanishing > 1 / VANISHING_RATIO else ""
    learned, taken, real_loss, real_accuracy = overfit(X_small)
    cause = ("the network cannot even learn a handful of samples by heart: its steps are too "
             "small, or it is",
             [change(lr=float(f"{lr * 10:.3g}")), advice("more or wider layers")])
    if not real_loss < start_loss:                 # (or NaN) the steps made it worse
        cause = ("the steps are too large: the loss rose instead of falling",
                 [change(lr=float(f"{lr / 10:.3g}")), advice("measure one: find_lr()")])
    if vanishing:
        cause = (f"the gradients vanish: the first layer's are {vanishing} smaller than the "
                 f"last's", ([change(activation="relu", init="he")]
                             if activation in SATURATED_Z else []) + [advice("fewer layers")])
    result("overfit", learned, f"{len(X_small)} samples: loss {real_loss:.3g}, accuracy "
           f"{100 * real_accuracy:.0f}% after {taken} steps of {optimizer} at lr {lr:g}", *cause)
    zero_loss = overfit(np.zeros_like(X_small))[2]
    cause = ("it learns as well without its inputs: they carry little to it (all alike, or "
             "unscaled), or are not the targets'", [advice("inputs scaled to mean 0, std 1"),
                                                    advice("rows of X and of the targets that match")])
    result("uses inputs", real_loss < 0.5 * zero_loss, f"loss {real_loss:.3g} on the real "
           f"inputs, {zero_loss:.3g} on all-zero inputs",
           *(cause if learned else ("it did not learn the samples: see overfit", [])))
    error = gradient_check(params, X_small[:5], targets_small[:5], loss,
                           activation=activation, entries=20)
    result("gradients", error < 1e-4, f"worst relative error {error:.1e} against central "
           f"differences" + (f"; the first layer's are {vanishing} smaller than the last's "
                             f"(vanishing)" if vanishing else ""),
           "backward() does not compute the loss's derivative: a formula or a shape in it "
           "is wrong", [advice("each backward function checked against central "
                               "differences, as test_nn.py does")])
    return results


def find_lr(params, X, targets, loss="cross_entropy", *, activation, optimizer="sgd",
            momentum=None, beta1=None, batch_size=128, start_lr=1e-6, end_lr=10.0, steps=100,
            rng=None):
    """The learning-rate range test (Smith, 2017): a learning rate to start from.

    On a copy of params, `steps` training steps with the optimizer and its momentum or
    beta1 as train() will use them (momentum 0.9 moves SGD about 10x further a step than
    none), the rate growing
    by one factor a step from start_lr to end_lr, until the loss blows up to 4x its lowest.
    The losses are smoothed by an exponential moving average (0.98, bias-corrected, as
    fast.ai's lr_find does); the suggestion is the rate where the smoothed loss was lowest
    divided by FIND_LR_MARGIN: 10 for SGD, where the curve still falls steeply; 30 for
    Adam, whose step is about lr per weight whatever the gradient, so it nears the edge
    sooner. Returns {"lrs": [...], "losses": [...] (smoothed), "suggestion": lr}; the
    suggestion is None when the loss never fell by a tenth: a flat curve has no minimum,
    and the trouble is elsewhere (see sanity_check).
    """
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("loss", loss, LOSSES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_params(params)
    check_whole("steps", steps, 2)
    settings = optimizer_settings(optimizer, momentum, None, beta1)
    if not (is_number(start_lr) and is_number(end_lr) and 0 < start_lr < end_lr):
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    X, targets = check_dataset(params, X, targets, loss, "range test")
    rng, copy, state = check_rng(rng), copy_params(params), {}
    growth = (end_lr / start_lr) ** (1 / (steps - 1))
    lrs, smoothed, average, order = [], [], 0.0, rng.permutation(len(X))
    for step in range(steps):
        batch = order[(step * batch_size) % len(X):][:batch_size]
        if len(batch) < batch_size and len(X) >= batch_size:
            order = rng.permutation(len(X))
            batch = order[:batch_size]
        with np.errstate(over="ignore", invalid="ignore"):
            logits, cache = forward(copy, X[batch], activation)
            value, dlogits = LOSSES[loss](logits, targets[batch])
        if not math.isfinite(value):
            break
        average = 0.98 * average + 0.02 * value
        lrs.append(start_lr * growth ** step)
        smoothed.append(average / (1 - 0.98 ** (step + 1)))
        if smoothed[-1] > 4 * min(smoothed):
            break
        OPTIMIZERS[optimizer](copy, backward(copy, cache, dlogits), state, lrs[-1], **settings)
    if not smoothed or min(smoothed) > 0.9 * smoothed[0]:    # no fall, so no minimum to go by
        return {"lrs": lrs, "losses": smoothed, "suggestion": None}
    best = int(np.argmin(smoothed))
    return {"lrs": lrs, "losses": smoothed, "suggestion": lrs[best] / FIND_LR_MARGIN[optimizer]}


FIND_LR_MARGIN = {"sgd": 10, "adam": 30}


# ---------------------------------------------------------------- saving and loading
# A model file is an .npz (a zip of .npy arrays): W1, b1, ..., the layer sizes, the
# activation's name, and info_<key> for each extra keyword. It holds arrays only, so
# np.load(allow_pickle=False) reads it without ever running code from the file.

def save(path, params, activation, **info):
    """Save a network to an .npz file that load() alone turns back into a usable model:
    the arrays of params, the layer sizes, the activation, and each keyword of info
    (numbers, strings, or lists of them: seed=0, test_accuracy=0.98). It is read back
    before it replaces path, and written atomically (see write_atomically)."""
    check_choice("activation", activation, ACTIVATIONS)
    arrays = dict(params, sizes=np.array(layer_sizes(params)), activation=np.array(activation))
    for key, value in info.items():
        if key in ("sizes", "activation"):
            raise ValueError(f"info {key!r} is reserved: load() fills info[{key!r}] itself")
        if np.asarray(value).dtype == object:
            raise TypeError(f"info {key!r} must be a number, a string or a list of them "
                            f"(it is saved without pickle); got {type(value).__name__}")
        arrays["info_" + key] = np.asarray(value)

    def read_back(temporary):
        written, _ = load(temporary)
        if any(not np.array_equal(written[key], params[key]) for key in params):
            raise OSError(f"{path}: the model did not read back as written")
    write_atomically(path, lambda file: np.savez(file, **arrays), read_back)


def load(path):
    """Read a network written by save(): (params, info), info holding "sizes",
    "activation" and every keyword given to save(). Only the arrays a model has are read,
    each checked (real floats of the shape sizes says, no NaN or infinity).
        params, info = load("model.npz")
        predictions = predict(params, X, info["activation"])
    """
    try:
        data = np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except Exception:           # a zip, pickle or format error: all mean the same here
        data = None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not a model saved by nn.save(): it looks like "
                         f"{what_file(path)}, not an .npz archive of arrays")
    with data:
        sizes = read_array(data, "sizes", path, 4096)
        if sizes.ndim != 1 or len(sizes) < 2 or sizes.dtype.kind not in "iu" or (sizes < 1).any():
            raise ValueError(f"{path} is damaged: its sizes {sizes.tolist()} are not two or "
                             f"more positive whole numbers")
        sizes = [int(size) for size in sizes]
        activation = read_array(data, "activation", path, 4096)
        if activation.ndim != 0 or str(activation) not in ACTIVATIONS:
            raise ValueError(f"{path} is damaged: unknown activation {activation.tolist()!r}")
        params = {}
        for i in range(1, len(sizes)):
            for key, shape in ((f"W{i}", (sizes[i - 1], sizes[i])), (f"b{i}", (sizes[i],))):
                array = read_array(data, key, path, 8 * math.prod(shape) + 4096)
                if array.shape != shape or array.dtype.kind != "f":
                    raise ValueError(f"{path} is damaged: {key} is {array.dtype} {array.shape}, "
                                     f"not real floats of shape {shape}")
                if not np.isfinite(array).all():
                    raise ValueError(f"{path} is damaged: {key} holds NaN or infinity")
                params[key] = array.astype(array.dtype.newbyteorder("="))  # native order
        if len({array.dtype for array in params.values()}) > 1:
            raise ValueError(f"{path} is damaged: its arrays mix dtypes")
        info = {"sizes": sizes, "activation": str(activation)}
        for name in data.files:
            if name.startswith("info_"):
                info[name[len("info_"):]] = read_array(data, name, path, 1 << 20).tolist()
    return params, info


def what_file(path):
    """What the file at path looks like, in a few words, from its first bytes."""
    with open(path, "rb") as file:
        start = file.read(64)
    if start.startswith(b"\x93NUMPY"):
        return "a single array saved by np.save()"
    if start.startswith(b"PK"):
        return "a zip archive that NumPy cannot read"
    try:
        return f"text ({start.decode('utf-8').split(chr(10))[0][:40]!r}...)"
    except UnicodeDecodeError:
        return f"binary data (starting {start[:8].hex(' ')})"


def read_array(data, key, path, max_bytes):
    """data[key] from an open .npz, refused unstored or larger than max_bytes unpacked
    (checked before reading, so that a crafted file cannot make us allocate gigabytes)."""
    try:
        size = data.zip.getinfo(key + ".npy").file_size
    except KeyError:
        raise ValueError(f"{path} is not a model saved by nn.save(): it has no {key!r}") from None
    if size > max_bytes:
        raise ValueError(f"{path}: {key!r} unpacks to {size:,} bytes, more than a model's "
                         f"{max_bytes:,}; it is not a model saved by nn.save()")
    return data[key]


def write_atomically(path, write, check=None):
    """Make the file at path with write(file), so that readers see the old file or the
    new one, never half of one: write fills a new temporary file of a unique name beside
    path (opened exclusively, so that nothing planted there is followed); check(its path),
    if given, reads it back and raises to keep the old file; then it is renamed over path."""
    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}-{os.urandom(4).hex()}.partial"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
        if check is not None:
            check(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# ---------------------------------------------------------------- running fast
# Faster twins of the heart's optimizers and dropout mask, which train() runs unless told
# plain=True. Each does what its plain version does (test_nn.py pins them together): the
# same arithmetic in fewer passes over memory.
#
# The optimizers work entry by entry, a handful of passes over arrays as large as the
# weights. A 784 x 576 float32 matrix is 1.8 MB, more than a core's cache, so each pass
# over the whole of it goes out to memory and back; on slices of BLOCK entries, the arrays
# an update touches stay in the cache for all of its passes, and each pass writes into
# the slice itself or one scratch buffer, never into a new array.
# Numbers below 1.2e-38 ("denormals") cost the CPU 10 to 50 times longer an operation. A
# running average whose gradient stays 0 (a pixel never inked) shrinks by its factor every
# step and reaches them within a few hundred steps, so every FLUSH_EVERY steps the
# averages' entries below TINY are set to 0: such an entry moved its weight by less than
# 1e-22 a step, and the math is unchanged.
BLOCK = 1 << 16
FLUSH_EVERY = 100
TINY = 1e-30


def sgd_step_fast(params, grads, state, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """sgd_step, in place, slice by slice: v = momentum * v + g; P -= lr * v (Nesterov:
    P -= lr * (g + momentum * v)), the same operations in the same order."""
    check_step(params, grads, state, lr, weight_decay, momentum=momentum)
    state["t"] = t = state.get("t", 0) + 1
    for key, P in params.items():
        if key not in state:
            state[key] = {"v": np.zeros_like(P)}
        if weight_decay and key.startswith("W"):
            P *= 1 - lr * weight_decay
        for P_, g, v, scratch in in_slices(P, grads[key], state[key]["v"]):
            v *= momentum
            v += g
            if nesterov:
                np.multiply(v, momentum, out=scratch)
                scratch += g
                scratch *= lr
            else:
                np.multiply(v, lr, out=scratch)
            P_ -= scratch
        flush_denormals(t, state[key]["v"])


def adam_step_fast(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """adam_step, in place, slice by slice, with the bias corrections folded into the step
    size as Kingma & Ba's section 2 suggests: lr * m_hat / (sqrt(s_hat) + eps) equals
        lr_t * m / (sqrt(s) + eps_t),  lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t),
                                       eps_t = eps * sqrt(1 - beta2**t)
    so m_hat and s_hat are never made: five passes fewer."""
    check_step(params, grads, state, lr, weight_decay, beta1=beta1, beta2=beta2, eps=eps)
    state["t"] = t = state.get("t", 0) + 1
    lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    eps_t = eps * math.sqrt(1 - beta2**t)
    for key, P in params.items():
        if key not in state:
            state[key] = {"m": np.zeros_like(P), "s": np.zeros_like(P)}
        if weight_decay and key.startswith("W"):
            P *= 1 - lr * weight_decay
        for P_, g, m, s, scratch in in_slices(P, grads[key], state[key]["m"], state[key]["s"]):
            m *= beta1                                       # m = beta1 m + (1 - beta1) g
            np.multiply(g, 1 - beta1, out=scratch)
            m += scratch
            s *= beta2                                       # s = beta2 s + (1 - beta2) g^2
            np.multiply(g, g, out=scratch)
            scratch *= 1 - beta2
            s += scratch
            np.sqrt(s, out=scratch)                          # P -= lr_t m / (sqrt(s) + eps_t)
            scratch += eps_t
            np.divide(m, scratch, out=scratch)
            scratch *= lr_t
            P_ -= scratch
        flush_denormals(t, state[key]["m"], state[key]["s"])


FAST_OPTIMIZERS = {"sgd": sgd_step_fast, "adam": adam_step_fast}


def in_slices(*arrays):
    """Matching slices of BLOCK entries of arrays of one shape (views: what is written to
    them reaches the arrays), each with a scratch buffer of its size as the last item."""
    if not all(array.flags.c_contiguous for array in arrays):
        yield (*arrays, np.empty_like(arrays[0]))
        return
    scratch = np.empty(min(arrays[0].size, BLOCK), dtype=arrays[0].dtype)
    flat = [array.reshape(-1) for array in arrays]
    for start in range(0, arrays[0].size, BLOCK):
        pieces = [array[start:start + BLOCK] for array in flat]
        yield (*pieces, scratch[:len(pieces[0])])


def flush_denormals(step, *averages):
    """On every FLUSH_EVERY-th step, the averages' entries below TINY set to 0."""
    if step % FLUSH_EVERY == 0:
        for average in averages:
            average[np.abs(average) < TINY] = 0


def dropout_keep_fast(shape, drop, rng):
    """dropout_keep's mask from 16 random bits a unit, a quarter of one of the generator's
    raw 64-bit draws (a uniform float costs a whole draw and a conversion): a whole number
    u in [0, 65536), kept if u >= 65536 * drop (rounded), which keeps it with probability
    1 - drop to within 1 / 131072."""
    n = math.prod(shape)
    bits = rng.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n]     # (n,) uniform
    return (bits >= round(drop * (1 << 16))).reshape(shape)


# ---------------------------------------------------------------- checking what comes in
# These turn every kind of bad input into an error that says what was wrong and what to
# do, at the door of each public function, so that the functions they guard stay plain
# arithmetic. Those called on every batch look at keys, shapes and dtypes only.

def is_whole(value):
    """True for a Python or NumPy integer, but not for True and False."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value):
    """True for a real Python or NumPy number, but not for True and False."""
    return is_whole(value) or isinstance(value, (float, np.floating))


def check_choice(what, value, choices):
    """Raise a ValueError naming the choices if value is not one of them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def check_whole(what, value, minimum):
    """Raise unless value is a whole number >= minimum (True and 2.0 are refused)."""
    if not is_whole(value) or value < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, got {value!r}")


def check_fraction(what, value):
    """Raise unless value is a number in [0, 1)."""
    if not (is_number(value) and 0 <= value < 1):
        raise ValueError(f"{what} must be in [0, 1), got {value!r}")


def check_rate(what, value, zero_too=False):
    """Raise unless value is a finite number > 0 (>= 0 with zero_too)."""
    if not (is_number(value) and math.isfinite(value) and (value > 0 or zero_too and value == 0)):
        raise ValueError(f"{what} must be a finite number {'>=' if zero_too else '>'} 0, got "
                         f"{value!r}")


def check_weight_decay(weight_decay, lr):
    """Raise unless weight_decay is in [0, 1/lr): each step multiplies W by 1 - lr * it."""
    if not (is_number(weight_decay) and 0 <= weight_decay < 1 / lr):
        raise ValueError(f"weight_decay must be in [0, 1/lr), got {weight_decay!r}: each step "
                         f"multiplies the weights by 1 - lr * weight_decay")


def check_rng(rng):
    """The random generator to draw from: a np.random.Generator as given, an int as its
    seed, None as seed 0. Anything else (np.random.RandomState, a float) is refused."""
    if rng is None or is_whole(rng):
        return np.random.default_rng(rng or 0)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)) or an "
                    f"int seed; got {type(rng).__name__}")


def copy_params(params):
    """A copy of params whose arrays can change without touching the originals."""
    return {key: value.copy() for key, value in params.items()}


def check_init(sizes, init, dtype):
    """Raise unless init_params() can make a network of these sizes, init and dtype."""
    sizes = list(sizes)
    if len(sizes) < 2 or any(not is_whole(size) or size < 1 for size in sizes):
        raise ValueError(f"sizes must be two or more positive integers, like [784, 256, 10]; "
                         f"got {sizes}")
    check_choice("init", init, ("he", "glorot"))
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"dtype must be a real floating type such as np.float32; got "
                        f"{np.dtype(dtype)}")


def check_network(params):
    """The number of layers L, if params has init_params()'s form: exactly the keys W1, b1,
    ..., WL, bL, real floating arrays of one dtype, W{i} (H{i-1}, H{i}) chaining into the
    next, b{i} (H{i},); else raise. Keys and shapes only: cheap on every batch."""
    if not isinstance(params, dict) or not params:
        raise TypeError(f"params must be a dict of arrays like init_params() makes; got "
                        f"{type(params).__name__}")
    n_layers = sum(1 for key in params if isinstance(key, str) and key.startswith("W"))
    expected = [f"{kind}{i}" for i in range(1, n_layers + 1) for kind in "Wb"]
    missing, extra = [k for k in expected if k not in params], [k for k in params if k not in expected]
    if n_layers == 0 or missing or extra:
        raise ValueError(f"params must have exactly the keys W1, b1, ..., W{n_layers}, "
                         f"b{n_layers}; missing {missing or 'none'}, unexpected {extra or 'none'}")
    for key, array in params.items():
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise TypeError(f"params[{key!r}] must be a NumPy array of real floats; got "
                            f"{getattr(array, 'dtype', type(array).__name__)}")
        if array.dtype != params["W1"].dtype:
            raise TypeError(f"params mix dtypes: {key} is {array.dtype}, W1 is {params['W1'].dtype}")
    for i in range(1, n_layers + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W{i} {W.shape} and b{i} {b.shape} do not fit: W{i} must be "
                             f"(inputs, outputs) and b{i} (outputs,)")
        if i > 1 and W.shape[0] != params[f"W{i - 1}"].shape[1]:
            raise ValueError(f"W{i} {W.shape} does not follow W{i - 1} {params[f'W{i - 1}'].shape}: "
                             f"its rows must equal the columns of W{i - 1}")
    return n_layers


def check_params(params):
    """check_network(params), and no NaN or infinity in any weight (a pass over them all:
    for the doors of train, evaluate and save, not for every batch)."""
    n_layers = check_network(params)
    if not all(np.isfinite(array).all() for array in params.values()):
        raise ValueError("params hold NaN or infinity: this network was damaged (a diverged "
                         "run?); start again from init_params()")
    return n_layers


def layer_sizes(params):
    """The sizes [D, H1, ..., C] that init_params() would make params from (checked)."""
    n_layers = check_params(params)
    return [params["W1"].shape[0]] + [params[f"W{i}"].shape[1] for i in range(1, n_layers + 1)]


def check_batch(params, X, activation, dropout, rng):
    """(X as an array, L) for forward(); raise if the network cannot run on this batch."""
    check_choice("activation", activation, ACTIVATIONS)
    n_layers = check_network(params)
    X = check_features(X, params)
    if len(X) == 0:
        raise ValueError("X is an empty batch (0 rows): give the network at least one sample")
    check_fraction("dropout", dropout)
    if dropout > 0 and not isinstance(rng, np.random.Generator):
        raise ValueError("dropout needs rng, a np.random.Generator, to draw its masks")
    return X, n_layers


def check_features(X, params, name="X"):
    """X as an array, if it is a real-valued (N, D) for a first layer W1 (D, H); else raise."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2 or X.shape[1] != params["W1"].shape[0]:
        raise ValueError(f"{name} must be (N, {params['W1'].shape[0]}) to match W1 "
                         f"{params['W1'].shape}; got shape {X.shape}")
    return X


def check_inputs(X, params, name="X"):
    """check_features(X), and no NaN or infinity in it, looked for a chunk at a time, so
    that the check never needs memory in proportion to X."""
    X = check_features(X, params, name)
    for start in range(0, len(X), 4096) if X.dtype.kind == "f" else []:
        if not np.isfinite(X[start:start + 4096]).all():
            raise ValueError(f"{name} holds NaN or infinite values (first in rows "
                             f"{start}..{start + 4095}); clean or impute them first")
    return X


def check_logits(logits):
    """logits as floats, if they are a non-empty (N, C) of real numbers; else raise.
    Integers become float64, float16 float32: a loss summed in float16 overflows at 65504."""
    logits = np.asarray(logits)
    if logits.dtype.kind not in "biuf":
        raise TypeError(f"logits must be real numbers, got dtype {logits.dtype}")
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"logits must be (N, C) with N >= 1 samples, got shape {logits.shape}")
    return logits.astype(np.promote_types(logits.dtype, np.float32) if logits.dtype.kind == "f"
                         else np.float64, copy=False)


def check_labels(labels, n_samples, n_classes):
    """labels as an integer array (N,); raise if they cannot be class labels, saying how to
    make them 0 .. C-1 where the mistake is a common one. It runs on every batch, as it
    must: a label of -1 would silently pick the last class by NumPy's negative indexing."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape == (n_samples, 1):
        raise ValueError(f"labels have shape {labels.shape}, a column: pass labels.ravel()")
    if labels.ndim == 2 and labels.shape[0] == n_samples and labels.size and \
            np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all():
        raise ValueError(f"labels {labels.shape} look one-hot (one 1 per row): pass "
                         f"labels.argmax(axis=1)")
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(f"expected {n_samples} labels in a 1-D array, got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        whole = labels.dtype.kind == "f" and np.isfinite(labels).all() and \
            (labels == np.round(labels)).all()
        fix = "they hold whole numbers: pass labels.astype(int)" if labels.dtype == bool or \
            whole else "number the classes with classes, labels = np.unique(y, return_inverse=True)"
        raise TypeError(f"class labels must be integers, got dtype {labels.dtype}; {fix}; or, "
                        f"if these are values to predict (regression), pass loss='mse'")
    if n_samples and (labels.min() < 0 or labels.max() >= n_classes):
        if n_classes == 1:
            fix = ("A network with one output answers a yes/no question, loss="
                   "'binary_cross_entropy', or predicts a value, loss='mse'.")
        elif labels.min() == 1 and labels.max() == n_classes:
            fix = "They run from 1 to C: pass labels - 1."
        else:
            fix = ("Number the classes 0 .. C-1 with classes, labels = np.unique(y, "
                   "return_inverse=True), and give the network one output per class.")
        raise ValueError(f"labels must lie in [0, {n_classes}) for {n_classes} outputs; got "
                         f"values from {labels.min()} to {labels.max()}. {fix}")
    return labels


def check_targets(targets, n_samples, n_outputs, loss, name="targets"):
    """The targets of loss "mse" or "binary_cross_entropy", as floats (N, K): values (N, K),
    or (N,) for one output; for binary_cross_entropy, one output and targets in [0, 1]
    (booleans are 0 and 1). Raise if they are not."""
    targets = np.asarray(targets)
    if targets.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {targets.dtype}")
    if loss == "binary_cross_entropy" and n_outputs != 1:
        raise ValueError(f"binary_cross_entropy wants a network with one output, (N, 1) "
                         f"logits; got {n_outputs} outputs")
    if n_outputs == 1 and targets.shape == (n_samples,):
        targets = targets[:, None]
    if targets.shape != (n_samples, n_outputs):
        raise ValueError(f"{name} have shape {targets.shape}; {n_samples} samples of a network "
                         f"with {n_outputs} outputs need ({n_samples}, {n_outputs})")
    targets = targets.astype(np.float64 if targets.dtype.kind != "f" else targets.dtype)
    if loss == "binary_cross_entropy" and not np.all((targets >= 0) & (targets <= 1)):
        raise ValueError(f"binary_cross_entropy {name} must lie in [0, 1]")
    return targets


def check_step(params, grads, state, lr, weight_decay, **settings):
    """Raise unless an optimizer's arguments make sense: the rates, the settings in [0, 1)
    (eps: > 0, and not 0 in the params' dtype), params of real floats, grads of their keys
    and shapes. Whether grads are finite is checked for every array on the first step, and
    for the biases on every step (a NaN anywhere in a layer's dz reaches its db), not for
    every weight on every step: that would cost more than it is worth."""
    check_rate("lr", lr)
    check_weight_decay(weight_decay, lr)
    for name, value in settings.items():
        if name == "eps":
            check_rate("eps", value)
        else:
            check_fraction(name, value)
    if not isinstance(state, dict) or not isinstance(params, dict) or not params:
        raise TypeError(f"params and state must be dicts (state starts as {{}}); got "
                        f"{type(params).__name__} and {type(state).__name__}")
    if not isinstance(grads, dict) or set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params ({', '.join(params)}); got "
                         f"{', '.join(map(str, grads)) if isinstance(grads, dict) else grads!r}")
    first = "t" not in state
    for key, P in params.items():
        g = grads[key]
        if not isinstance(P, np.ndarray) or P.dtype.kind != "f":
            raise TypeError(f"params[{key!r}] must be a NumPy array of real floats")
        if not isinstance(g, np.ndarray) or g.shape != P.shape:
            raise ValueError(f"grads[{key!r}] must be an array of {key}'s shape {P.shape}; got "
                             f"{getattr(g, 'shape', type(g).__name__)}")
        if "eps" in settings and P.dtype.type(settings["eps"]) == 0:
            raise ValueError(f"eps={settings['eps']} is 0 in {P.dtype} (its smallest number is "
                             f"{np.finfo(P.dtype).smallest_subnormal:.1e}), so a weight whose "
                             f"gradients are all 0 would become 0 / 0 = NaN: use float32 "
                             f"params (init_params' default), or a larger eps")
        if (first or key.startswith("b")) and not np.isfinite(g).all():
            raise ValueError(f"grads[{key!r}] holds NaN or infinity: the step would ruin the "
                             f"weights. Check the loss and the learning rate first")


def check_dataset(params, X, targets, loss, name):
    """(X, targets) ready for training, X of the parameters' dtype (copied once here if
    needed, never per batch); raise if they cannot be used together."""
    X = check_inputs(X, params, f"{name} X").astype(params["W1"].dtype, copy=False)
    if targets is None:
        raise ValueError(f"{name} X was given without its targets")
    targets = np.asarray(targets)
    if targets.ndim == 0 or len(targets) != len(X):
        raise ValueError(f"{name} X has {len(X)} samples but its targets have shape "
                         f"{targets.shape}")
    if len(X) == 0:
        raise ValueError(f"the {name} set is empty")
    n_outputs = params[f"W{count_layers(params)}"].shape[1]
    if loss == "cross_entropy":
        return X, check_labels(targets, len(X), n_outputs)
    targets = check_targets(targets, len(X), n_outputs, loss, f"{name} targets")
    if not np.isfinite(targets).all():
        raise ValueError(f"{name} targets hold NaN or infinite values; clean them first")
    return X, targets.astype(X.dtype, copy=False)


def check_training(params, X, targets, X_val, targets_val, settings, on_epoch, on_batch,
                   should_stop):
    """(X, targets, X_val, targets_val) as check_dataset makes them; raise if a setting of
    train() (most are in the dict settings) is out of range, or would do nothing."""
    for what, choices in (("activation", ACTIVATIONS), ("loss", LOSSES),
                          ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
        check_choice(what, settings[what], choices)
    check_params(params)
    check_whole("epochs", settings["epochs"], 0)
    check_whole("batch_size", settings["batch_size"], 1)
    check_rate("lr", settings["lr"])
    check_rate("final_lr", settings["final_lr"], zero_too=True)
    check_fraction("dropout", settings["dropout"])
    optimizer_settings(settings["optimizer"], settings["momentum"], settings["nesterov"],
                       settings["beta1"])
    check_weight_decay(settings["weight_decay"], settings["lr"])
    for name, function in (("augment", settings["augment"]), ("on_epoch", on_epoch),
                           ("on_batch", on_batch), ("should_stop", should_stop)):
        if function is not None and not callable(function):
            raise TypeError(f"{name} must be a function or None, got {type(function).__name__}")
    if not isinstance(settings["keep_best"], bool):
        raise TypeError(f"keep_best must be True or False, got {settings['keep_best']!r}")
    if settings["patience"] is not None:
        check_whole("patience", settings["patience"], 1)
    if (settings["keep_best"] or settings["patience"] is not None) and X_val is None:
        raise ValueError("keep_best and patience choose epochs by their validation loss: "
                         "pass X_val and targets_val too")
    if X_val is None and targets_val is not None:
        raise ValueError("targets_val was given without X_val")
    if X_val is not None:
        X_val, targets_val = check_dataset(params, X_val, targets_val, settings["loss"],
                                           "validation")
    return (*check_dataset(params, X, targets, settings["loss"], "training"), X_val, targets_val)


def optimizer_settings(optimizer, momentum, nesterov, beta1):
    """The optimizer's own settings, each checked, None meaning its default: SGD's
    momentum (0.9) and nesterov, Adam's beta1 (0.9). Another optimizer's is refused, but
    for a momentum given to Adam that equals its beta1: it changes nothing."""
    if optimizer == "sgd":
        if beta1 is not None:
            raise ValueError("beta1 is Adam's; SGD's velocity decay is momentum=...")
        momentum = 0.9 if momentum is None else momentum
        check_fraction("momentum", momentum)
        return {"momentum": momentum, "nesterov": bool(nesterov)}
    beta1 = 0.9 if beta1 is None else beta1
    check_fraction("beta1", beta1)
    # A momentum equal to beta1 changes nothing: a script written for both optimizers
    # may pass momentum=0.9 to each.
    if nesterov is not None or momentum not in (None, beta1):
        raise ValueError("momentum and nesterov are SGD's; Adam's running mean of the "
                         "gradients decays by beta1=... (default 0.9)")
    return {"beta1": beta1}


def check_augmented(result, X_batch):
    """What augment(X_batch, rng) returned, checked: it must keep the batch's shape and
    hold real finite numbers; it is given the data's dtype."""
    result = np.asarray(result)
    if result.shape != X_batch.shape:
        raise ValueError(f"augment returned shape {result.shape} for a batch of shape "
                         f"{X_batch.shape}; it must change values only")
    if result.dtype.kind not in "biuf" or not np.isfinite(result).all():
        raise ValueError("augment returned a batch with NaN, infinite or non-real values")
    return result.astype(X_batch.dtype, copy=False)
