"""What the folder's tests share: handwriting-like glyphs, and small networks that read them."""
import contextlib
import shutil

import numpy as np
import pytest

import nn
from extras import judge, reader


def glyph(digit, rng):
    """A 28 x 28 stand-in for a handwritten 0, 1 or 7 (uint8, light ink on black, as in
    MNIST), drawn with a random size, slant and stroke width."""
    y, x = np.mgrid[0:28, 0:28].astype(np.float64)
    cy, cx = 14 + rng.uniform(-1, 1, 2)
    width, slant = rng.uniform(1.6, 2.4), rng.uniform(-0.25, 0.25)
    x = x - slant * (y - cy)
    if digit == 0:
        radius = np.hypot((x - cx) / rng.uniform(5, 7), (y - cy) / rng.uniform(8, 9.5))
        distance = np.abs(radius - 1) * 6.5
    elif digit == 1:
        distance = np.where(np.abs(y - cy) < 9, np.abs(x - cx), 99)
    else:                                             # 7: a bar, and a stroke down from it
        bar = np.where((x > cx - 6) & (x < cx + 6), np.abs(y - (cy - 8)), 99)
        t = np.clip((y - (cy - 8)) / 17, 0, 1)
        stroke = np.where(y >= cy - 8, np.abs(x - (cx + 6 - 8 * t)), 99)
        distance = np.minimum(bar, stroke)
    return np.round(255 * np.clip(width - distance, 0, 1)).astype(np.uint8)


def centred_digit():
    """A made-up digit: a thick ring (a zero) in the middle of a 28 x 28 frame."""
    y, x = np.mgrid[0:28, 0:28]
    radius = np.hypot(y - 13.5, x - 13.5)
    return np.clip(3 - np.abs(radius - 7), 0, 1).astype(np.float32)


def rings_in_a_row(count, overlap=4):
    """A page (uint8, dark ink on white) with count rings in a row, each overlapping the
    last by overlap pixels."""
    ring = np.kron(glyph(0, np.random.default_rng(3)), np.ones((3, 3), np.uint8))
    columns = np.flatnonzero(ring.max(axis=0))
    ring = ring[:, columns[0]:columns[-1] + 1]
    step = ring.shape[1] - overlap
    page = np.zeros((ring.shape[0] + 40, count * step + overlap + 40), np.uint8)
    for k in range(count):
        area = page[20:20 + ring.shape[0], 20 + k * step:20 + k * step + ring.shape[1]]
        np.maximum(area, ring, out=area)
    return 255 - page


# A network that reads anything as a 0, and is sure of it: 784 inputs, 10 outputs.
ALWAYS_0 = {"W1": np.zeros((784, 10), np.float32), "b1": np.eye(10, dtype=np.float32)[0] * 12}


@pytest.fixture(scope="session")
def glyph_network():
    """A small network that tells the glyphs 0, 1 and 7 apart, prepared as MNIST's digits
    are (trained here, in a second)."""
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 7], 900)
    X = np.array([reader.centre_digit(glyph(d, rng) / 255) for d in labels]).reshape(900, -1)
    params = nn.init_params([784, 64, 10], rng=rng)
    nn.train(params, X, labels, epochs=15, lr=0.003, optimizer="adam", rng=rng)
    assert nn.accuracy(labels, nn.predict(params, X, "relu")) > 0.98
    return params


@pytest.fixture(scope="session")
def glyph_judge():
    """The reader's judge, trained on numbers of glyphs (0s, 1s and 7s): 200 of them."""
    rng = np.random.default_rng(0)
    images = np.array([glyph(d, rng) for d in rng.choice([0, 1, 7], 300)]) / 255
    return judge.train_judge(images, rng, 200, log=lambda message: None)


@contextlib.contextmanager
def chromium_page(width, height):
    """A page of Debian's Chromium, width x height, driven by Playwright's sync API and
    closed after; the test is skipped where either is not installed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield launched.new_page(viewport={"width": width, "height": height})
        finally:
            launched.close()
