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
