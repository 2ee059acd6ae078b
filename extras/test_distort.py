"""Tests of distort.py: the distortions keep a digit a digit."""
import numpy as np
import pytest

from extras import distort
from extras.conftest import centred_digit


def test_transforms_with_no_strength_give_the_image_back():
    """An affine map of no turn/scale/shear/move, and alpha 0, change nothing."""
    images = np.stack([centred_digit(), np.random.default_rng(0).random((28, 28))]).astype(np.float32)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(distort.affine_images(images, rng, 0, 0, 0, 0), images, atol=1e-6)
    np.testing.assert_allclose(distort.elastic_images(images, rng, 0, 4), images, atol=1e-6)


@pytest.mark.parametrize("transform", [
    lambda images, rng: distort.affine_images(images, rng, 2, 12, 0.1, 0.15),
    lambda images, rng: distort.elastic_images(images, rng, 34, 4),
])
def test_distortions_keep_a_centred_digit_inside_the_frame_with_its_ink(transform):
    """Distortions bend a digit but keep it in the frame, with its ink on average."""
    digit = centred_digit()
    images = np.repeat(digit[None], 50, axis=0)
    out = transform(images, np.random.default_rng(1))
    assert not np.allclose(out, images)                          # it did change them
    ink = out.sum(axis=(1, 2)) / digit.sum()       # stretching and squeezing move it, but
    assert 0.95 < ink.mean() < 1.05                 # on average it stays, and none is lost
    assert np.all(ink > 0.6) and np.all(ink < 1.6)
    border = out[:, :2].sum() + out[:, -2:].sum() + out[:, :, :2].sum() + out[:, :, -2:].sum()
    assert border < 0.02 * out.sum()


def one_and_seven():
    """A 1 (a straight stem) and a 7 (a bar and a stem), light on black, as MNIST's."""
    images = np.zeros((2, 28, 28), np.float32)
    images[0, 4:24, 13:16] = 1
    images[1, 4:7, 8:20] = 1
    images[1, 7:24, 16:19] = 1
    return images


def test_a_flag_goes_down_to_the_left_of_a_ones_top_and_a_bar_crosses_a_sevens_stem():
    """A flagged 1 gains ink left of its stem, in its upper third, and nothing on its right
    but a base, if it got one, at its foot; a crossed 7 gains ink on both sides of its
    stem, a little below the middle."""
    images = one_and_seven()
    before = images.copy()
    distort.add_strokes(images, np.array([0]), np.random.default_rng(0), "flag")
    distort.add_strokes(images, np.array([1]), np.random.default_rng(0), "bar")
    added = images - before
    assert added[0, 4:11, :12].sum() > 3 and added[0, :21, 17:].sum() == 0
    assert added[0, 11:21].sum() == 0                   # the stem's middle is left alone
    bases = 0
    for seed in range(12):
        images = one_and_seven()
        distort.add_strokes(images, np.array([0]), np.random.default_rng(seed), "flag")
        base = images[0, 21:, 17:].sum() > 1            # right of the stem, at its foot
        bases += base
        assert base == (images[0, 21:, :12].sum() > 1)  # a base is on both sides
    assert 1 <= bases <= 8
    rows = np.flatnonzero(added[1].sum(axis=1) > 0)
    assert 13 <= rows.min() and rows.max() <= 17        # across the stem, below the middle
    assert added[1, :, :16].sum() > 2 and added[1, :, 19:].sum() > 2


def test_hand_styles_rewrites_its_share_of_the_digits_in_place_and_no_more(monkeypatch):
    """hand_styles changes about its share of the digits, in place, chunk by chunk, and
    keeps them light on black in [0, 1]; a share of 0 changes none."""
    monkeypatch.setattr(distort, "CHUNK", 16)
    images = np.repeat(one_and_seven(), 500, axis=0)
    labels = np.tile([1, 7], 500)
    before = images.copy()
    count = distort.hand_styles(images, labels, np.random.default_rng(0), 0.3)
    changed = np.abs(images - before).sum(axis=(1, 2)) > 0.5
    assert 250 < count < 350 and changed.sum() <= count and changed.sum() > 0.8 * count
    assert images.min() >= 0 and images.max() <= 1
    assert distort.hand_styles(images, labels, np.random.default_rng(0), 0) == 0


def test_narrower_digits_keep_their_height_and_a_bolder_pen_more_ink():
    """narrow_and_slant squeezes a digit about the frame's middle (its ink spans no more
    columns, and the same rows); change_pen's bold pen adds ink and its fine pen takes
    some away."""
    ring = np.repeat(centred_digit()[None], 200, axis=0)
    narrow = distort.narrow_and_slant(ring, np.random.default_rng(0))
    rows = lambda images: (images > 0.3).any(axis=2).sum(axis=1)          # noqa
    assert np.abs(rows(narrow) - rows(ring)).max() <= 1
    upright = narrow[:, 13:15]                      # the middle rows: no shear, squeeze only
    assert ((upright > 0.3).any(axis=1).sum(axis=1) <= (ring[:, 13:15] > 0.3).any(axis=1).sum(axis=1)).all()
    assert (narrow.sum(axis=(1, 2)) < 0.95 * ring.sum(axis=(1, 2))).mean() > 0.5
    pens = distort.change_pen(ring, np.random.default_rng(0))
    ink = pens.sum(axis=(1, 2)) / ring[0].sum()
    assert ((ink > 1.3) | (ink < 0.9)).all() and (ink > 1.3).sum() > 50 and (ink < 0.9).sum() > 50
