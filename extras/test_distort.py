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
