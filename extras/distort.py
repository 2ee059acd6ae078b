"""Distortions for training images: turned, scaled and sheared (--augment affine), or bent
like a hand's strokes (--augment elastic). mnist.py's make_augment calls them on each
training batch; the default, whole-pixel shifts, is mnist.py's own shift_images.
"""
import numpy as np


def affine_images(images, rng, max_shift, rotate, scale, shear):
    """Each image turned by up to `rotate` degrees, scaled by 1 +- `scale`, sheared by up
    to `shear` and moved by up to max_shift pixels, all at random: pixel p reads the
    source at M (p - centre) + centre - move, M = rotation @ shear / zoom (never mirrored)."""
    n, height, width = images.shape
    angle, zoom = np.radians(rng.uniform(-rotate, rotate, n)), rng.uniform(1 - scale, 1 + scale, n)
    slant, move = rng.uniform(-shear, shear, n), rng.uniform(-max_shift, max_shift, (2, n))
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    # rotation [[cos, -sin], [sin, cos]] @ shear [[1, slant], [0, 1]], one per image
    m = np.array([[cos, cos * slant - sin], [sin, sin * slant + cos]], dtype=np.float32)
    m = m[:, :, :, None, None]                                          # (2, 2, N, 1, 1)
    y = np.arange(height, dtype=np.float32)[:, None] - (height - 1) / 2   # (28, 1)
    x = np.arange(width, dtype=np.float32)[None, :] - (width - 1) / 2     # (1, 28)
    rows = m[0, 0] * y + m[0, 1] * x + ((height - 1) / 2 - move[0, :, None, None])
    cols = m[1, 0] * y + m[1, 1] * x + ((width - 1) / 2 - move[1, :, None, None])
    return resample(images, rows, cols)


def elastic_images(images, rng, alpha, sigma):
    """Simard's elastic distortion: every pixel moves by a random field, uniform in [-1, 1],
    smoothed by a Gaussian of width sigma and scaled by alpha, so strokes bend as a hand's
    would. The blur is separable: one (28, 28) matrix product along rows, one along columns."""
    n, height, width = images.shape
    offsets = np.arange(height, dtype=np.float32)
    blur = np.exp(-(offsets[:, None] - offsets[None, :]) ** 2 / (2 * sigma ** 2))
    blur /= blur.sum(axis=1, keepdims=True)                  # (28, 28), each row sums to 1
    field = rng.random((2 * n * height, width), dtype=np.float32) * 2 - 1
    field = (field @ blur.T).reshape(2 * n, height, width)            # along each row
    field = blur @ field.transpose(1, 0, 2).reshape(height, -1)       # along each column
    field = alpha * field.reshape(height, 2, n, width).transpose(1, 2, 0, 3)  # (2, N, 28, 28)
    return resample(images, offsets[:, None] + field[0], offsets[None, :] + field[1])


def resample(images, rows, cols):
    """Bilinear resampling: out[n, i, j] = images[n] read at the fractional position
    (rows[n, i, j], cols[n, i, j]), mixing its four nearest pixels by their distance;
    black outside the frame. All (N, 28, 28) float32, in place where it can be."""
    n, height, width = images.shape
    padded = np.zeros((n, height + 4, width + 4), dtype=images.dtype)   # a black border
    padded[:, 2:-2, 2:-2] = images
    rows = np.clip(rows + 2, 0, height + 2.999, dtype=np.float32)      # into the border
    cols = np.clip(cols + 2, 0, width + 2.999, dtype=np.float32)
    top, left = np.floor(rows), np.floor(cols)
    rows -= top                                                        # how far down, 0..1
    cols -= left                                                       # how far right, 0..1
    index = top.astype(np.intp) * (width + 4) + left.astype(np.intp)   # of the top-left
    index += (np.arange(n) * padded[0].size)[:, None, None]             # in the flat batch
    flat = padded.reshape(-1)
    above = flat[index]                                                # top-left pixel
    above += cols * (flat[index + 1] - above)                          # mixed with top-right
    below = flat[index + width + 4]
    below += cols * (flat[index + width + 5] - below)
    above += rows * (below - above)
    return above


# ---------------------------------------------------------------- other hands
# MNIST's writers were American census staff and students. Other hands write a 1 with a
# flag and a base, cross their 7s, write narrow or slanted digits, with a marker or a fine
# pen. hand_styles() rewrites a share of the training digits so, once, before training.
FLAG_ONES = 0.5        # of the 1s chosen: drawn with a flag (a third of those with a base)
CROSS_SEVENS = 0.4     # of the 7s chosen: crossed
RESHAPE = 0.5          # of the digits chosen: narrower (0.55 to 1 as wide) and slanted
REWEIGHT = 0.4         # of the digits chosen: a bolder or a finer pen
CHUNK = 4096           # digits rewritten at a time


def hand_styles(images, labels, rng, share):
    """Rewrite, in place, a share of images (N, 28, 28) float in [0, 1], light on black,
    with their labels (N,), as hands that MNIST lacks write them: of the digits chosen,
    FLAG_ONES of the 1s get a flag, CROSS_SEVENS of the 7s a bar, RESHAPE are made
    narrower and slanted, REWEIGHT drawn with a bolder or finer pen. Each stays in its
    20 x 20 box about its centre, as MNIST's preparation left it. Returns the number
    rewritten."""
    chosen = np.flatnonzero(rng.random(len(images)) < share)
    pick = lambda rate, where=True: chosen[(rng.random(len(chosen)) < rate) & where]  # noqa
    add_strokes(images, pick(FLAG_ONES, labels[chosen] == 1), rng, "flag")
    add_strokes(images, pick(CROSS_SEVENS, labels[chosen] == 7), rng, "bar")
    narrow, bold = pick(RESHAPE), pick(REWEIGHT)
    for start in range(0, len(narrow), CHUNK):        # in chunks: a few arrays the size of
        part = narrow[start:start + CHUNK]            # a chunk at a time, not of them all
        images[part] = narrow_and_slant(images[part], rng)
    for start in range(0, len(bold), CHUNK):
        part = bold[start:start + CHUNK]
        images[part] = change_pen(images[part], rng)
    return len(chosen)


def ink_extent(images, level=0.3):
    """The rows of each image's first and last ink, and the column of the ink's middle in
    each row: (top, bottom, middle), (N,), (N,), (N, 28); rows with no ink get NaN."""
    inked = images > level
    rows = inked.any(axis=2)
    top = rows.argmax(axis=1)
    bottom = images.shape[1] - 1 - rows[:, ::-1].argmax(axis=1)
    columns = np.arange(images.shape[2], dtype=np.float32)
    weight = inked.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        middle = (inked * columns).sum(axis=2) / weight
    return top, bottom, middle


def add_strokes(images, chosen, rng, kind):
    """In place: a straight stroke added to images[chosen] (N, 28, 28), as thick as the
    digit's own strokes (its ink over its height, for a 1 or a 7's stem): for "flag", from
    the top of a 1 down to the left, a third of its height long, a third of them also a
    base; for "bar", across a 7's stem a little below its middle."""
    if len(chosen) == 0:
        return
    digits = images[chosen]
    n = len(digits)
    top, bottom, middle = ink_extent(digits)
    height = (bottom - top + 1).astype(np.float32)
    width = np.clip(digits.sum(axis=(1, 2)) / height, 1.0, 3.5)
    at = lambda rows: middle[np.arange(n), rows]                          # noqa
    if kind == "flag":
        x0, y0 = at(top), top.astype(np.float32)
        length, angle = height * rng.uniform(0.25, 0.45, n), np.radians(rng.uniform(30, 60, n))
        segments = [(x0, y0, x0 - length * np.cos(angle), y0 + length * np.sin(angle))]
        base = rng.random(n) < 1 / 3
        half = height * rng.uniform(0.2, 0.35, n) * base                   # 0: no base
        x1, y1 = at(bottom), bottom.astype(np.float32)
        segments.append((x1 - half, y1, x1 + half, y1))
    else:
        row = np.round(top + height * rng.uniform(0.5, 0.6, n)).astype(int)
        x0, y0 = at(np.minimum(row, bottom)), row.astype(np.float32)
        half, tilt = height * rng.uniform(0.15, 0.25, n), rng.uniform(-0.1, 0.1, n)
        segments = [(x0 - half, y0 - tilt * half, x0 + half, y0 + tilt * half)]
    y, x = np.mgrid[0:28, 0:28].astype(np.float32)
    for xa, ya, xb, yb in segments:
        ok = np.isfinite(xa) & np.isfinite(xb)
        xa, xb = np.where(ok, xa, -99), np.where(ok, xb, -99)            # no ink: no stroke
        dx, dy = (xb - xa)[:, None, None], (yb - ya)[:, None, None]
        along = ((x - xa[:, None, None]) * dx + (y - ya[:, None, None]) * dy) / \
            np.maximum(dx * dx + dy * dy, 1e-6)
        along = np.clip(along, 0, 1)
        distance = np.hypot(x - xa[:, None, None] - along * dx, y - ya[:, None, None] - along * dy)
        stroke = np.clip(width[:, None, None] / 2 + 0.5 - distance, 0, 1)
        np.maximum(digits, stroke, out=digits)
    images[chosen] = digits


def narrow_and_slant(images, rng):
    """images (N, 28, 28) squeezed to 0.55-1 of their width and sheared by up to 0.3
    about the frame's centre, each at random: column j of row i reads the source at
    13.5 + (j - 13.5) / squeeze + shear (i - 13.5), mixing its two nearest pixels."""
    n = len(images)
    squeeze, shear = rng.uniform(0.55, 1.0, n), rng.uniform(-0.3, 0.3, n)
    i = np.arange(28, dtype=np.float32)[:, None] - 13.5
    j = np.arange(28, dtype=np.float32)[None, :] - 13.5
    cols = 13.5 + j / squeeze[:, None, None] + shear[:, None, None] * i
    rows = np.broadcast_to(np.arange(28, dtype=np.float32)[:, None], cols.shape)
    return resample(images.astype(np.float32), rows.copy(), cols.astype(np.float32))


def change_pen(images, rng):
    """images (N, 28, 28) drawn with a bolder pen (the brightest of each pixel and its four
    neighbours) or, for half of them, a finer one (the faint edge of each stroke taken
    away: ink above a half, stretched to [0, 1])."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    bolder = np.maximum.reduce([images, padded[:, :-2, 1:-1], padded[:, 2:, 1:-1],
                                padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]])
    finer = np.clip(2 * images - 1, 0, 1)
    return np.where((rng.random(len(images)) < 0.5)[:, None, None], bolder, finer)
