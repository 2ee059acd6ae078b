"""Tests of images.py: PNG, PGM and PPM against the specification's formulas, one resize,
one crop to the ink."""
import struct
import zlib

import numpy as np
import pytest

from extras import images


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (28, 28), (17, 31), (4, 7, 3), (9, 2, 3)])
def test_png_written_is_read_back_identically(shape):
    """write_png and read_png agree, for grey and RGB images of odd sizes."""
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = images.write_png(pixels)
    assert data[-4:] == bytes.fromhex("AE426082")                # the CRC of an empty IEND
    back = images.read_png(data, "test.png")
    np.testing.assert_array_equal(back.reshape(pixels.shape), pixels)

def png_filtered(pixels, kind, colour_type):
    """A PNG of uint8 pixels (H, W, C) with every row filtered by `kind` (or row y by
    kind[y % len(kind)], for a list), the slow, obvious way, straight from the
    specification's formulas."""
    height, width, channels = pixels.shape
    raw = pixels.reshape(height, -1).astype(int)
    kinds = kind if isinstance(kind, list) else [kind]
    rows = []
    for y in range(height):
        kind = kinds[y % len(kinds)]
        line, filtered = raw[y], []
        for x in range(len(line)):
            a = line[x - channels] if x >= channels else 0
            b = raw[y - 1][x] if y > 0 else 0
            c = raw[y - 1][x - channels] if y > 0 and x >= channels else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else \
                b if abs(p - b) <= abs(p - c) else c
            guess = [0, a, b, (a + b) // 2, paeth][kind]
            filtered.append((line[x] - guess) % 256)
        rows.append(bytes([kind] + filtered))
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (images.PNG_SIGNATURE + images.png_chunk(b"IHDR", header) +
            images.png_chunk(b"IDAT", zlib.compress(b"".join(rows))) + images.png_chunk(b"IEND", b""))

@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("colour_type, channels", [(0, 1), (4, 2), (2, 3), (6, 4)])
def test_each_png_filter_and_colour_type_decodes_to_the_known_pixels(kind, colour_type, channels):
    """All five PNG row filters, in all four 8-bit colour types, decode to the pixels encoded."""
    pixels = np.random.default_rng(kind).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    np.testing.assert_array_equal(images.read_png(png_filtered(pixels, kind, colour_type), "f.png"),
                                  pixels)

def test_rows_of_every_filter_in_one_image_decode_to_the_known_pixels():
    """Rows filtered five ways in turn, as an encoder choosing per row writes them (a
    phone's PNG): Average and Paeth rows next to the others decode exactly."""
    pixels = np.random.default_rng(1).integers(0, 256, (11, 13, 3), dtype=np.uint8)
    for kinds in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0, 0, 4]):
        data = png_filtered(pixels, kinds, 2)
        np.testing.assert_array_equal(images.read_png(data, "mixed.png"), pixels)

def test_palette_png_with_transparency_becomes_rgba():
    """Palette images, with their tRNS transparency, come back as RGBA."""
    palette = bytes([0, 0, 0, 255, 255, 255, 200, 10, 10])
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)[:, :, None]
    data = png_filtered(index, 0, 3)
    data = data[:33] + images.png_chunk(b"PLTE", palette) + images.png_chunk(b"tRNS", b"\xff\x00") \
        + data[33:]
    rgba = images.read_png(data, "p.png")
    assert rgba.shape == (2, 3, 4)
    np.testing.assert_array_equal(rgba[0, 1], [255, 255, 255, 0])
    np.testing.assert_array_equal(rgba[0, 2], [200, 10, 10, 255])

def damaged_pngs():
    good = images.write_png(np.zeros((4, 4), dtype=np.uint8))
    header16 = struct.pack(">IIBBBBB", 4, 4, 16, 0, 0, 0, 0)
    interlaced = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 1)
    return [
        (good[:-20], "truncated"),
        (good[:30] + bytes([good[30] ^ 1]) + good[31:], "corrupt PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "a JPEG file"),
        (b"hello", "not a PNG"),
        (images.PNG_SIGNATURE + images.png_chunk(b"IHDR", header16) + good[33:], "16-bit"),
        (images.PNG_SIGNATURE + images.png_chunk(b"IHDR", interlaced) + good[33:], "interlaced"),
    ]

@pytest.mark.parametrize("data, message", damaged_pngs())
def test_unreadable_images_get_a_clear_error_naming_the_file(tmp_path, data, message):
    """Truncated, corrupt, JPEG, 16-bit and interlaced files each get a clear error."""
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    with pytest.raises(images.ImageError, match=message) as error:
        images.read_image(str(path))
    assert str(path) in str(error.value)

def test_pgm_and_ppm_are_read_with_comments_and_scaled_values(tmp_path):
    """Binary PGM and PPM, with header comments and any maximum value up to 255."""
    path = tmp_path / "d.pgm"
    path.write_bytes(b"P5\n# made by hand\n3 2\n15\n" + bytes([0, 15, 5, 10, 15, 0]))
    np.testing.assert_array_equal(images.read_image(str(path))[:, :, 0], [[0, 255, 85], [170, 255, 0]])
    path = tmp_path / "d.ppm"
    path.write_bytes(b"P6 1 1 255 " + bytes([1, 2, 3]))
    np.testing.assert_array_equal(images.read_image(str(path)), [[[1, 2, 3]]])
    path.write_bytes(b"P6 1 1 65535 " + bytes(6))
    with pytest.raises(images.ImageError, match="8-bit only"):
        images.read_image(str(path))


def test_resize_averages_areas_both_ways():
    """Shrinking by a whole factor is the mean of each block; by any factor it keeps the
    image's mean; growing a constant stays that constant; a 3 x 2 image read at 2 x 2 mixes
    its middle row into both halves by the share each covers."""
    image = np.random.default_rng(0).random((12, 18))
    blocks = image.reshape(4, 3, 6, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(images.resize(image, 4, 6), blocks, rtol=1e-12)
    for height, width in ((5, 7), (30, 40), (1, 1)):
        assert images.resize(image, height, width).mean() == pytest.approx(image.mean())
    np.testing.assert_allclose(images.resize(np.full((3, 3), 0.7), 10, 8), 0.7)
    small = images.resize(np.array([[0.0, 0.0], [3.0, 3.0], [6.0, 6.0]]), 2, 2)
    np.testing.assert_allclose(small, [[1.0, 1.0], [5.0, 5.0]])


def test_ink_box_is_the_box_of_the_ink_brighter_than_its_share():
    """The box of the pixels above share x the brightest, bottom and right exclusive; a
    bool mask's box is its True pixels'."""
    image = np.zeros((10, 12))
    image[2:5, 3:9] = 1.0
    image[7, 10] = 0.1                                   # a faint speck
    assert images.ink_box(image) == (2, 3, 8, 11)
    assert images.ink_box(image, 0.2) == (2, 3, 5, 9)
    assert images.ink_box(image > 0.5) == (2, 3, 5, 9)
