"""Pictures in and out: PNG, PGM and PPM files, read and written with zlib and NumPy alone;
resize() scales by area averaging, ink_box() finds where the ink is, png_uri() embeds a
picture in a page. Photos in other formats (JPEG) are read by reader.read_photo, through
Pillow when it is installed.
"""
import base64
import functools
import os
import struct
import zlib

import numpy as np


class ImageError(ValueError):
    """A picture that cannot be read, or holds nothing to read; the message says why."""


# ---------------------------------------------------------------- PNG files
# A PNG file is a signature and a list of chunks, each: length, a 4-letter type, data, and
# a CRC-32 of type and data. IHDR says width, height and pixel format; IDAT holds the
# pixel rows, each row led by a filter byte, all compressed with zlib; IEND ends it.
# (The PNG specification, ISO/IEC 15948, sections 5, 9 and 11.)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type: grey, RGB, palette, grey+alpha, RGBA
MAX_FILE = 200_000_000                          # bytes: a photo, not a disk image


def read_image(path):
    """uint8 pixels (H, W, C) of a PNG, PGM or PPM file; ImageError for anything else."""
    if not os.path.isfile(path):                # a folder, a FIFO (would hang), a typo
        raise ImageError(f"{path}: {'no such file' if not os.path.exists(path) else 'not a file'}")
    with open(path, "rb") as file:
        data = file.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ImageError(f"{path}: over {MAX_FILE:,} bytes, too large for a picture")
    if data[:2] in (b"P5", b"P6"):
        return read_pnm(data, path)
    return read_png(data, path)


def read_png(data, name):
    """Pixels of an 8-bit, non-interlaced PNG as uint8 (H, W, C): C = 1 grey, 2 grey +
    alpha, 3 RGB, 4 RGBA (palette images come back as RGB or RGBA). Anything else gets
    an ImageError that names the file and says why."""
    if not data.startswith(PNG_SIGNATURE):
        kind = "a JPEG" if data.startswith(b"\xff\xd8") else "not a PNG"
        raise ImageError(f"{name}: {kind} file (no PNG signature); save it as PNG or PGM")
    chunks, position = {}, len(PNG_SIGNATURE)
    while position < len(data):
        if position + 8 > len(data):
            raise ImageError(f"{name}: truncated PNG (a chunk header is cut off)")
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc = data[position + 8 + length:position + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ImageError(f"{name}: truncated PNG (the {kind.decode('latin-1')} chunk is cut off)")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise ImageError(f"{name}: corrupt PNG (CRC mismatch in {kind.decode('latin-1')})")
        chunks.setdefault(kind, []).append(body)
        position += 12 + length
        if kind == b"IEND":
            break
    if b"IHDR" not in chunks or b"IDAT" not in chunks or b"IEND" not in chunks:
        raise ImageError(f"{name}: truncated or incomplete PNG (needs IHDR, IDAT and IEND)")
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB",
                                                                       chunks[b"IHDR"][0])
    if colour_type not in PNG_CHANNELS or depth != 8:
        raise ImageError(f"{name}: {depth}-bit PNG of colour type {colour_type} is not "
                         f"supported; save it as an 8-bit PNG")
    if interlace:
        raise ImageError(f"{name}: interlaced PNG is not supported; save it without interlacing")
    if width * height > 50_000_000:
        raise ImageError(f"{name}: {width} x {height} pixels is too large for a picture of digits")
    channels = PNG_CHANNELS[colour_type]
    try:
        raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    except zlib.error as error:
        raise ImageError(f"{name}: corrupt PNG image data ({error})") from None
    pixels = unfilter(raw, height, width * channels, channels, name)
    pixels = pixels.reshape(height, width, channels)
    if colour_type == 3:
        if b"PLTE" not in chunks:
            raise ImageError(f"{name}: palette PNG without its palette (PLTE)")
        palette = np.frombuffer(chunks[b"PLTE"][0], dtype=np.uint8).reshape(-1, 3)
        if pixels.max() >= len(palette):
            raise ImageError(f"{name}: a pixel names palette entry {pixels.max()} of {len(palette)}")
        colours = palette[pixels[:, :, 0]]
        if b"tRNS" in chunks:                  # the alpha of the first palette entries
            alpha = np.full(len(palette), 255, dtype=np.uint8)
            given = np.frombuffer(chunks[b"tRNS"][0], dtype=np.uint8)[:len(palette)]
            alpha[:len(given)] = given
            colours = np.dstack([colours, alpha[pixels[:, :, 0]]])
        pixels = colours
    return pixels


def unfilter(data, height, stride, bpp, name):
    """Undo PNG's per-row filters (spec section 9): raw bytes (height, stride).

    Each row starts with its filter: 0 none, 1 Sub (minus the byte bpp to the left),
    2 Up (minus the byte above), 3 Average (of left and above), 4 Paeth (minus whichever
    of left, above, upper-left is nearest to left + above - upper-left). Sub and Up run
    on whole rows at once. Average and Paeth need the byte just decoded to their left and
    the row above, so an image that uses them is decoded one anti-diagonal of pixels at a
    time (a pixel's left, upper and upper-left neighbours all lie on earlier ones): about
    height + width steps, each over a diagonal's pixels at once.
    """
    if len(data) != height * (stride + 1):
        raise ImageError(f"{name}: the image data holds {len(data):,} bytes, not the "
                         f"{height * (stride + 1):,} that its size needs (truncated or corrupt)")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(height, stride + 1)
    kinds, lines = rows[:, 0], rows[:, 1:]
    if (kinds > 4).any():
        y = int(np.flatnonzero(kinds > 4)[0])
        raise ImageError(f"{name}: row {y} has unknown PNG filter type {kinds[y]}")
    if (kinds >= 3).any():
        return unfilter_diagonals(lines, kinds, bpp)
    out = np.zeros((height + 1, stride), dtype=np.uint8)          # row 0: the zeros above
    for y in range(height):
        kind, line, above = kinds[y], lines[y], out[y]
        if kind == 0:
            out[y + 1] = line
        elif kind == 1:
            for start in range(bpp):       # each byte adds the decoded byte bpp to its left
                out[y + 1, start::bpp] = np.cumsum(line[start::bpp], dtype=np.uint64) % 256
        else:
            out[y + 1] = line + above
    return out[1:]


def unfilter_diagonals(lines, kinds, bpp):
    """unfilter() for images with Average or Paeth rows: lines (H, W * bpp) of filtered
    bytes, kinds (H,) their filters. Pixel (y, x) is decoded at step y + x, all of a
    step's pixels at once; out has a row and a column of zeros above and to the left,
    as PNG has them."""
    height, width = len(lines), lines.shape[1] // bpp
    raw = lines.reshape(height, width, bpp).astype(np.int16)
    out = np.zeros((height + 1, width + 1, bpp), dtype=np.int16)
    for step in range(height + width - 1):
        y = np.arange(max(0, step - width + 1), min(height, step + 1))
        x = step - y
        left, up, up_left = out[y + 1, x], out[y, x + 1], out[y, x]             # (n, bpp)
        kind = kinds[y][:, None]
        guess = np.where(kind == 1, left, np.where(kind == 2, up, 0))
        guess = np.where(kind == 3, (left + up) // 2, guess)
        p = left + up - up_left                                    # Paeth's predictor
        near_left, near_up, near_up_left = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
        paeth = np.where((near_left <= near_up) & (near_left <= near_up_left), left,
                         np.where(near_up <= near_up_left, up, up_left))
        guess = np.where(kind == 4, paeth, guess)
        out[y + 1, x + 1] = (raw[y, x] + guess) & 255
    return out[1:, 1:].reshape(height, width * bpp).astype(np.uint8)


def read_pnm(data, name):
    """Pixels of a binary PGM (P5, grey) or PPM (P6, RGB) file with 8-bit values, as
    uint8 (H, W, C). The header is the magic, width, height and maximum value, separated
    by whitespace, with # comments allowed; then the raw bytes."""
    fields, position = [], 2
    while len(fields) < 3:
        while position < len(data) and data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.find(b"\n", position) + 1 or len(data)
            continue
        start = position
        while position < len(data) and data[position:position + 1].isdigit():
            position += 1
        if start == position:
            raise ImageError(f"{name}: damaged PGM/PPM header")
        fields.append(int(data[start:position]))
    width, height, maxval = fields
    if not 0 < maxval < 256:
        raise ImageError(f"{name}: PGM/PPM with maximum value {maxval} is not supported (8-bit only)")
    channels = 1 if data[:2] == b"P5" else 3
    pixels = data[position + 1:position + 1 + width * height * channels]
    if len(pixels) != width * height * channels:
        raise ImageError(f"{name}: truncated PGM/PPM ({len(pixels):,} of "
                         f"{width * height * channels:,} bytes)")
    values = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, channels)
    return (values.astype(np.uint16) * 255 // maxval).astype(np.uint8)


def write_png(pixels):
    """The bytes of a PNG file of uint8 pixels: (H, W) grey or (H, W, 3) RGB. Every row
    gets filter 0 (stored as it is); zlib does the compressing."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    rows = pixels.reshape(height, -1)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def png_chunk(kind, data):
    """length, type, data, CRC-32 of type + data: one PNG chunk."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_uri(pixels, zoom=1):
    """A data: URI of a PNG of pixels (uint8, or floats in [0, 1]), each pixel zoom x zoom:
    a picture that a page carries inside itself."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)
    pixels = pixels.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return "data:image/png;base64," + base64.b64encode(write_png(pixels)).decode("ascii")


# ---------------------------------------------------------------- pixels

def resize(image, height, width):
    """image (h, w) of floats scaled to (height, width) by area averaging: each new pixel
    is the mean of the part of the old image it covers, pixels being little squares. Each
    new row is a weighted sum of the old rows (area_weights), and so is each new column,
    so resizing is two matrix products; shrinking by whole factors, each new pixel is the
    mean of a block, which is the same and a single pass over a photo."""
    rows, cols = image.shape
    if rows % height == 0 and cols % width == 0:
        return image.reshape(height, rows // height, width, cols // width).mean(axis=(1, 3))
    return area_weights(height, rows) @ image @ area_weights(width, cols).T


@functools.lru_cache(maxsize=512)
def area_weights(n_out, n_in):
    """(n_out, n_in): how much of old pixel j each new pixel i covers, rows summing to 1."""
    edges = np.arange(n_out + 1) * (n_in / n_out)                  # new pixels, in old ones
    overlap = np.minimum(edges[1:, None], np.arange(1, n_in + 1)) - \
        np.maximum(edges[:-1, None], np.arange(n_in))
    weights = np.clip(overlap, 0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def ink_box(image, share=0.0):
    """(top, left, bottom, right) of the pixels of image (H, W) brighter than share times
    its brightest one (a bool mask: its True pixels); bottom and right exclusive. The
    image must hold some ink."""
    inked = image > share * image.max()
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1
