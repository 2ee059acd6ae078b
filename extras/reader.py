"""Reading a handwritten number: from a photo's pixels to the digits, with a network that
nn.py trained on MNIST.

MNIST's digits were prepared in a particular way (LeCun et al., the MNIST page): each was
scaled to fit a 20 x 20 box, keeping its aspect ratio (which greys its edges), then placed
in a 28 x 28 frame so that its centre of mass sits on pixel (14, 14). A photo or a drawing
must go through the same steps, or the network sees something it never learned.

Reading a number takes a few steps, each a function below: grey levels; the ink, as what
is clearly darker than the paper around it (a photo is lit unevenly, so the paper's
brightness is estimated locally); the connected pieces of ink; the pieces of one digit
joined (a 5's detached top stroke, a broken line); specks dropped; a piece too wide for
one digit cut where its ink is thinnest near where the cut should be, the network's
confidence choosing among the candidate cuts, with a judge's (a second, small network that
learned from the candidates' pixels and shapes to tell one whole digit from a pair or a
piece: see judge.py); each digit prepared as MNIST's were, its strokes no finer than
MNIST's.
"""
import math
import os
import sys

import numpy as np

import nn
from extras.images import PNG_SIGNATURE, ImageError, ink_box, read_image, resize

WORK_SIZE = 1200       # photos are read at most this many pixels wide or tall
MAX_DIGITS = 30        # more digit-sized pieces than this is no number (a page, a face)
SURE = 0.9             # a group read with this confidence may be one digit: the judge says
DOUBTFUL = 0.95        # a digit read with less confidence than this is marked with a ?
# A network saved without the judge (Fashion-MNIST's, or one whose --save was cut short) is
# read by these hand-set rules instead of the judge's learned scores; their prices are set
# by hand, not learned.
TOO_WIDE = 1.1         # a group this many times wider than tall is not one digit
DIGIT_PRICE = 0.2      # what reading one more digit costs, in log-probability
SHAPE_PRICE = 10.0     # what an unlikely shape costs, in log-probability (see shape_cost)
CUT_PRICE = 10.0       # what a cut through ink costs, in log-probability, times the square
CUT_FREE = 0.3         # of the share of its rows in ink beyond this (a joint costs nothing)
WIDEST = 3.0           # a digit is rarely this many standard deviations wider than its class
SHORTEST = 0.75        # nor shorter than this share of the digits around it
PEN_WIDTH = 0.11       # MNIST's finest strokes: the 10th percentile of its training digits'
                       # stroke width (2.2 pixels) over their longer side (20 pixels)
# log(width / height) of the ink of each class in MNIST's training set: mean and standard
# deviation. A 1 is narrow and varies most; a 0, a 2 or a 5 is about as wide as tall.
DIGIT_SHAPES = np.array([[-0.10, 0.19], [-0.91, 0.45], [-0.07, 0.21], [-0.23, 0.21],
                         [-0.24, 0.21], [-0.07, 0.25], [-0.32, 0.21], [-0.26, 0.21],
                         [-0.27, 0.22], [-0.39, 0.20]])


def read_file(path, params, activation, judge=None, one_item=False):
    """read_number() on the picture in the file at path; one_item: the picture is one
    thing (a Fashion-MNIST item), prepared whole and never cut up."""
    pixels = read_photo(path)
    if not one_item:
        return read_number(pixels, params, activation, path, judge)
    inputs = prepare_digit(pixels, path)[None]                          # (1, 28, 28)
    probs = nn.softmax(nn.outputs(params, inputs.reshape(1, -1), activation))
    doubt = probs.max(axis=1) < DOUBTFUL
    return {"text": str(probs.argmax()), "digits": probs.argmax(axis=1), "probs": probs,
            "doubt": doubt, "marked": str(probs.argmax()) + "?" * bool(doubt[0]), "inputs": inputs}


def predict_files(paths, params, activation, classes, judge=None, one_item=False, draw=None):
    """--predict: a line per picture saying what was read (answer()), then, given draw
    (a function drawing 28 x 28 inputs as text), the inputs the network was given; a
    picture that cannot be read gets an error line on stderr. Returns the exit status."""
    failed = 0
    for path in paths:
        try:
            reading = read_file(path, params, activation, judge, one_item)
        except ValueError as error:                      # ImageError, and the like
            print(f"mnist.py: error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {answer(reading, classes)}")
        if draw:
            print(draw(reading["inputs"], "  "))
    return 1 if failed else 0


def read_photo(path):
    """uint8 pixels (H, W, C) of the picture in the file at path. PNG, PGM and PPM are read
    by images.py with NumPy alone; any other format (a phone's JPEG) through Pillow, when
    it is installed (the one optional import of the project), turned upright as the
    camera recorded and decoded at no more than about WORK_SIZE pixels where the format
    allows (JPEG does: it is read faster)."""
    if not os.path.isfile(path):
        return read_image(path)                        # which says what is wrong
    with open(path, "rb") as file:
        start = file.read(8)
    if start.startswith((PNG_SIGNATURE, b"P5", b"P6")):
        return read_image(path)
    try:
        from PIL import Image, ImageOps
    except ImportError:
        kind = "a JPEG" if start.startswith(b"\xff\xd8") else "not a PNG, PGM or PPM"
        raise ImageError(f"{path}: {kind} file; PNG, PGM and PPM are read as they are, other "
                         f"formats need Pillow: pip install pillow. Or open the photo on "
                         f"the page (python mnist.py --load MODEL --serve), which reads "
                         f"JPEG") from None
    try:
        with Image.open(path) as image:
            image.draft("RGB", (WORK_SIZE, WORK_SIZE))
            image = ImageOps.exif_transpose(image)
            return np.asarray(image.convert("RGBA"))
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ImageError(f"{path}: not a picture Pillow can read ({error})") from None


def answer(reading, classes):
    """A reading in one line: '2026  (2 99.1%, 0 97.3%, ...)' for a number, each digit's
    confidence after it, and 'unsure: 20?26' before them when a digit is doubtful; for
    one digit or item its three likeliest classes, '7 (97.1%)  1 (1.2%)  9 (0.8%)', and
    'unsure' after them when doubtful. The reading itself always comes first."""
    probs = reading["probs"]
    best = probs.argmax(axis=1)
    unsure = probs.max(axis=1) < DOUBTFUL
    if len(probs) == 1:
        likeliest = np.argsort(-probs[0])[:3]
        return "  ".join(f"{classes[k]} ({100 * probs[0, k]:.1f}%)" for k in likeliest) + (
            "  unsure" if unsure[0] else "")
    marked = "".join(classes[k] + "?" * bool(q) for k, q in zip(best, unsure))
    return "".join(classes[k] for k in best) + (f"  unsure: {marked}" if unsure.any() else "") \
        + "  (" + ", ".join(f"{classes[k]} {100 * p[k]:.1f}%" for k, p in zip(best, probs)) + ")"


def read_number(pixels, params, activation, name="image", judge=None):
    """Read every digit in an image, left to right, with the network params.

    pixels: uint8 (H, W), or (H, W, C) with C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA;
    dark ink on light paper or light on dark. judge: the reader's judge (judge.py),
    which saved MNIST networks carry, or None. Returns a dict:
        text    the digits read, as a string ("2026")
        digits  the digits (K,);  probs: the network's probabilities (K, 10)
        doubt   (K,) bool: digits read with under DOUBTFUL confidence, which are wrong
                far more often than the rest;  marked: the text with a ? after each
                ("20?26")
        inputs  what the network was given, float32 (K, 28, 28)
        boxes   where each digit is in the image, (top, left, bottom, right), (K, 4)
    Raises ImageError for an image with no ink, or too many pieces to be a number.
    """
    grey, factor = working_grey(pixels)
    ink, labels, groups, expected = find_groups(grey, name)
    found = []
    for members, _ in groups:
        found += read_group(np.isin(labels, members), ink, expected, params, activation, judge)
    inputs, probs, masks = (list(column) for column in zip(*found))
    probs = np.array(probs)
    digits, doubt = probs.argmax(axis=1), probs.max(axis=1) < DOUBTFUL
    return {"text": "".join(str(d) for d in digits), "digits": digits, "probs": probs,
            "doubt": doubt, "marked": "".join(f"{d}?" if q else str(d)
                                              for d, q in zip(digits, doubt)),
            "inputs": np.array(inputs),
            "boxes": np.round(np.array([ink_box(mask) for mask in masks]) * factor).astype(int)}


def working_grey(pixels):
    """(grey, factor): the grey levels of pixels (grey_levels), a photo shrunk by block
    means to at most WORK_SIZE pixels wide and tall, and the factor it was shrunk by."""
    grey = grey_levels(pixels)
    factor = math.ceil(max(grey.shape) / WORK_SIZE)
    if factor > 1:
        height, width = grey.shape[0] // factor, grey.shape[1] // factor
        grey = resize(grey[:height * factor, :width * factor], height, width)
    return grey, factor


def digit_input(pixels, name="image"):
    """What the network is given for a picture of one digit, prepared as read_number
    prepares each digit of a number (the ink against the paper, specks and marks off the
    line dropped, cropped, scaled and centred), never cut up: float32 (28, 28). For
    pictures taught to the network (teach.py), so it learns what it will be shown. A
    picture of one digit is often cropped close, its strokes a fair share of its width,
    too wide for the window that finds the paper (ink_strength), which then sees only bits
    of their edges: one that cannot be read so is read again as if on a sheet twice as
    large, its border repeated outwards. (Always so, a thin digit's ink would be too small
    a share of the picture for the contrast ink_strength measures.)"""
    grey = working_grey(pixels)[0]
    try:
        ink, labels, groups, _ = find_groups(grey, name)
    except ImageError:                        # more paper round it, and again (see above)
        ink, labels, groups, _ = find_groups(np.pad(grey, max(grey.shape) // 2, mode="edge"),
                                             name)
    members = np.concatenate([members for members, _ in groups])
    return centre_digit(np.where(np.isin(labels, members), ink, 0))


def find_groups(grey, name="image"):
    """The first steps, up to the groups of ink that hold one digit or several touching:
    (ink, labels, groups, expected). grey (H, W) in [0, 1]; ink as ink_strength gives it;
    labels and groups as connected_pieces and digit_groups give them; expected: one
    digit's width in pixels (the median of the groups no wider than tall), or None when
    every group is wider."""
    ink, threshold = ink_strength(grey, name)
    labels, boxes, areas = connected_pieces(ink > threshold)
    groups = digit_groups(boxes, areas, ink.shape, name)
    narrow = [right - left for top, left, bottom, right in (span for _, span in groups)
              if right - left <= bottom - top]
    return ink, labels, groups, float(np.median(narrow)) if narrow else None


def read_group(mask, ink, expected, params, activation, judge=None):
    """The digits in one group of pieces (mask (H, W) bool), left to right, as a list of
    (input (28, 28), probs (10,), mask).

    A group the network reads with confidence (SURE) as one digit is one digit if the
    judge agrees that it is one whole digit. Any other may hold several digits: the
    network reads every candidate digit cut out of it (see candidates), and the reading
    kept is the chain of candidates from the left edge to the right whose scores add up
    to the most (dynamic programming: segmentation by recognition, LeCun et al. 1998,
    section VI). A candidate's score is the log of the network's confidence plus the log
    of the judge's probability that it is one whole digit: the judge learned that from
    the candidates' pixels and shapes (shape_features) in numbers cut up the same way
    (judge.py). A network saved without a judge is read by hand-set rules instead: a group
    is one digit if not too wide for one (TOO_WIDE), and a candidate's score loses
    DIGIT_PRICE for another digit, what its shape costs (shape_cost), and what its left
    cut costs if it runs through ink for most of its rows (CUT_PRICE).
    """
    def read(inputs, features):
        """The network's probabilities (K, 10), and the judge's that each is whole (K,)."""
        X = inputs.reshape(len(inputs), -1).astype(params["W1"].dtype)
        probs = nn.softmax(nn.forward(params, X, activation)[0])
        if judge is None:
            return probs, None
        told = np.hstack([X, features.astype(X.dtype)])
        return probs, nn.softmax(nn.forward(judge, told, "relu")[0])[:, 1]

    top, left, ends, pieces, parts, inputs, features = candidates(mask, ink, expected, cut=False)
    height, width = parts.shape[1:]
    probs, whole = read(inputs, features)
    if probs.max() >= SURE and (width < TOO_WIDE * height if judge is None else whole[0] >= 0.5):
        return [(inputs[0], probs[0], mask)]
    top, left, ends, pieces, parts, inputs, features = candidates(mask, ink, expected, cut=True)
    probs, whole = read(inputs, features)
    if judge is None:
        score = np.log(probs.max(axis=1)) - DIGIT_PRICE - \
            shape_cost(parts, probs.argmax(axis=1), height) - \
            CUT_PRICE * np.clip(features[:, 3] - CUT_FREE, 0, None) ** 2
    else:
        score = np.log(probs.max(axis=1)) + np.log(np.maximum(whole, 1e-6))
    best = np.full(len(ends), -np.inf)
    best[0], came_from = 0.0, {}
    for k, (i, j) in enumerate(pieces):             # (i, j) come sorted by i: one pass
        if best[i] + score[k] > best[j]:
            best[j], came_from[j] = best[i] + score[k], (i, k)
    chosen, j = [], len(ends) - 1
    while j:
        i, k = came_from[j]
        chosen.insert(0, k)
        j = i
    found = []
    for k in chosen:
        part = np.zeros_like(mask)
        part[top:top + height, left:left + width] = parts[k]
        found.append((inputs[k], probs[k], part))
    return found


def candidates(mask, ink, expected, cut=True):
    """Every way to cut out one digit of a group of pieces (mask (H, W) bool), as
    (top, left, ends, pieces, parts, inputs, features): the group's box starts at (top,
    left); ends are the cut paths (see cut_paths), each the column of the cut in each row
    of the box, the first its left edge and the last its right; pieces (i, j) name the
    candidates, the ink between cuts i and j; parts (K, h, w) bool is their ink in the
    box, inputs (K, 28, 28) what the network is given for each, and features (K, 5) what
    the judge is told of their shapes (shape_features).

    Without cut, the one candidate is the whole. With cut, cut paths are laid through the
    group from top to bottom at every sixth of a digit's width (expected, in pixels; 0.7
    of the group's height when None), and every run between two of them up to twice a
    digit's width, with 3% of the group's ink or more, is a candidate, and so is the whole.
    """
    top, left, bottom, right = ink_box(mask)
    width, height = right - left, bottom - top
    expected = expected or 0.7 * height
    box = mask[top:bottom, left:right]
    step = max(2.0, expected / 6)
    centres = np.arange(step, width - step / 2, step) if cut else []
    ends = [np.zeros(height, dtype=np.int64), *cut_paths(box, centres, step / 2),
            np.full(height, width)]
    columns = np.arange(width)[None, :]
    pieces, parts = [], []
    for i in range(len(ends)):
        reach = range(i + 1, min(len(ends), i + 2 + int(2 * expected / step)))
        for j in sorted(set(reach) | ({len(ends) - 1} if i == 0 else set())):
            part = box & (columns >= ends[i][:, None]) & (columns < ends[j][:, None])
            if part.sum() >= 0.03 * box.sum() or (i, j) == (0, len(ends) - 1):
                pieces.append((i, j))
                parts.append(part)
    inputs = np.stack([centre_digit(np.where(part, ink[top:bottom, left:right], 0))
                       for part in parts])
    parts = np.array(parts)
    features = shape_features(box, ends, pieces, parts, expected)
    return top, left, ends, pieces, parts, inputs, features


def shape_features(box, ends, pieces, parts, expected):
    """What the judge is told of each candidate besides its pixels, (K, 5): its ink's
    log(width / height) (a pair is wide); log of its height over the group's (a piece is
    often short); log of its width over a digit's expected width; the share of rows its
    left cut and its right cut run through ink (a cut through a stroke, not between
    digits). box (h, w) is the group's ink, ends the cut paths, pieces (i, j) the cuts
    each candidate lies between, parts (K, h, w) their ink."""
    height, width = box.shape
    top, bottom = inked_span(parts.any(axis=2))
    left, right = inked_span(parts.any(axis=1))
    heights, widths = np.maximum(bottom - top, 1), np.maximum(right - left, 1)
    crossed = np.array([0.0] + [box[np.arange(height), np.minimum(end, width - 1)].mean()
                                for end in ends[1:-1]] + [0.0])
    i, j = np.array(pieces).reshape(-1, 2).T
    return np.stack([np.log(widths / heights), np.log(heights / height),
                     np.log(widths / expected), crossed[i], crossed[j]], axis=1).astype(np.float32)


def shape_cost(parts, digits, height):
    """What the shape of each candidate digit costs, in log-probability, (K,): parts (K, h,
    w) bool, the candidates' ink; digits (K,) what the network read; height the group's.

    The network reads a pair of touching digits, squeezed into 20 x 20 pixels, as one
    digit with confidence, and so it does a stroke cut off a digit. Their shapes give
    them away: a pair is wider than nearly every MNIST digit of the class it was read as
    (more than WIDEST standard deviations above its class's mean log(width / height)),
    and a fragment is often shorter than the digits around it (under SHORTEST of the
    group's height). Either costs SHAPE_PRICE times the square of how far beyond it is.
    """
    top, bottom = inked_span(parts.any(axis=2))                  # each candidate's rows
    left, right = inked_span(parts.any(axis=1))                  # and columns
    heights, widths = bottom - top, right - left
    mean, std = DIGIT_SHAPES[digits].T
    wider = (np.log(widths / heights) - mean) / std - WIDEST
    shorter = np.log(SHORTEST * height / heights)
    return SHAPE_PRICE * (np.clip(wider, 0, None) ** 2 + np.clip(shorter, 0, None) ** 2)


def inked_span(inked):
    """(first, end) of each row of inked (K, n) bool: where its first True is, and one past
    its last, (K,) each."""
    return inked.argmax(axis=1), inked.shape[1] - inked[:, ::-1].argmax(axis=1)


def cut_paths(box, centres, reach):
    """Ways to cut the ink of box (h, w) bool in two from top to bottom, one for each of
    the columns centres (K,): the column of each cut in each row, (K, h), moving at most
    one column from row to row and ending within `reach` of its centre (cuts that cannot,
    in a box too narrow, are left out). A path pays for every inked pixel it crosses and
    a little for straying from its centre; the cheapest path to each bottom column is
    found row by row (dynamic programming), for all the centres at once. So a cut bends
    around a stroke that a straight one would go through."""
    height, width = box.shape
    columns = np.arange(width)
    centres = np.array([c for c in centres if ((np.abs(columns - c) <= reach) &
                                               (columns > 0) & (columns < width - 1)).any()])
    if len(centres) == 0:
        return np.zeros((0, height), dtype=np.int64)
    away = np.abs(columns[None, :] - centres[:, None]) / max(reach, 1)       # (K, w)
    total = 10.0 * box[0] + away
    came_from = np.zeros((height, len(centres), width), dtype=np.int8)
    blocked = np.full((len(centres), 1), np.inf)
    for y in range(1, height):
        steps = np.stack([np.hstack([blocked, total[:, :-1]]), total,     # from x - 1, x,
                          np.hstack([total[:, 1:], blocked])])            # x + 1: (3, K, w)
        came_from[y] = steps.argmin(axis=0) - 1
        total = steps.min(axis=0) + 10.0 * box[y] + away
    near = (np.abs(columns[None, :] - centres[:, None]) <= reach) & (columns > 0) & \
        (columns < width - 1)
    paths = np.empty((len(centres), height), dtype=np.int64)
    paths[:, -1] = np.where(near, total, np.inf).argmin(axis=1)
    for y in range(height - 1, 0, -1):
        paths[:, y - 1] = paths[:, y] + came_from[y, np.arange(len(centres)), paths[:, y]]
    return paths


def grey_levels(pixels):
    """float32 (H, W) in [0, 1], 0 black and 1 white, from uint8 grey, grey + alpha, RGB
    or RGBA pixels; transparent parts count as white paper."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or min(pixels.shape[:2]) < 1:
        raise ImageError(f"expected pixels (H, W) or (H, W, 1-4), got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise ImageError(f"expected uint8 pixels, 0 to 255, got {pixels.dtype}; for floats "
                         f"in [0, 1] pass np.round(255 * pixels).astype(np.uint8)")
    values = pixels.astype(np.float32) / 255
    colour = values[:, :, :3] if values.shape[2] >= 3 else values[:, :, :1]
    if colour.shape[2] == 3:
        grey = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    else:
        grey = colour[:, :, 0]
    if values.shape[2] in (2, 4):                                 # alpha: composite on white
        alpha = values[:, :, -1]
        grey = grey * alpha + (1 - alpha)
    return grey


def ink_strength(grey, name="image"):
    """(ink, threshold): how much darker than the paper around it each pixel of grey
    (H, W) is, and how dark a pixel must be to count as ink.

    The paper's brightness is estimated locally, by a closing (a max filter, then a min
    filter, over a window a sixth of the picture wide): it erases the strokes and keeps
    what is larger, such as a shadow or a brighter corner, so that neither becomes ink.
    Strokes too bold for that window (a marker in a tight crop) are measured again with
    one three times as wide as they are, or as wide as the picture when the first saw no
    ink at all. Ink takes away a share of the light that falls on it, wherever it lies,
    so darkness is measured as that share, (paper - grey) / paper: a digit in a shadow
    is as dark as one in the light. Light ink on dark paper is turned over first. A
    3 x 3 blur keeps sensor noise from counting as ink; the threshold is a third of the
    share of light that the darkest ink in the image takes.
    """
    blurred = window_filter(grey, 3, np.add) / 9
    if light_ink(blurred):
        blurred = 1 - blurred
    size = int(np.clip(min(grey.shape) // 6, 9, 151)) | 1
    try:
        darker, threshold = ink_against_paper(blurred, size, name)
        bold = int(3 * stroke_width(darker > threshold))
    except ImageError:                  # strokes as wide as the window: it saw only paper
        darker, bold = None, max(grey.shape)
    if darker is None or bold > size:
        return ink_against_paper(blurred, min(bold, max(grey.shape)) | 1, name)
    return darker, threshold


def ink_against_paper(blurred, size, name):
    """ink_strength's measure with a closing over size x size windows."""
    paper = window_filter(window_filter(blurred, size, np.maximum), size, np.minimum)
    darker = (paper - blurred) / np.maximum(paper, 0.05)    # ink's share of the light
    darker[paper - blurred < 0.04] = 0                       # noise on dark paper, no ink
    contrast = np.percentile(darker, 99.5)
    if contrast < 0.1:
        raise ImageError(f"{name}: no ink found (the image is blank or has no contrast); "
                         f"expected dark digits on light paper, or light on dark")
    return np.clip(darker, 0, None).astype(np.float32), max(0.06, contrast / 3)


def stroke_width(inked):
    """About how wide the strokes of inked (H, W) bool are, in pixels: twice their area
    over the length of their edge (a stroke w wide and l long has area w l, edges 2 l)."""
    edge = inked & ~(np.roll(inked, 1, 0) & np.roll(inked, -1, 0) & np.roll(inked, 1, 1) &
                     np.roll(inked, -1, 1))
    return 2 * inked.sum() / max(edge.sum(), 1)


def light_ink(grey):
    """True if the ink of grey (H, W) is lighter than its paper. The paper is what the
    picture's border shows, its light changing smoothly across the page: a plane fitted
    to the border's grey levels, by least squares. The ink is what lies farthest from it:
    light ink if the lightest pixel lies farther above the paper than the darkest below.
    Whole-picture evidence, so bold strokes that fill a tight crop do not fool it."""
    height, width = grey.shape
    rows = np.concatenate([np.zeros(width), np.full(width, height - 1),
                           np.arange(height), np.arange(height)]) / height
    cols = np.concatenate([np.arange(width), np.arange(width),
                           np.zeros(height), np.full(height, width - 1)]) / width
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    plane = np.stack([np.ones_like(rows), rows, cols], axis=1)               # (B, 3)
    a, b, c = np.linalg.lstsq(plane, border, rcond=None)[0]
    paper = a + b * np.arange(height)[:, None] / height + c * np.arange(width) / width
    level = np.median(border - plane @ (a, b, c))      # the paper, where the border is ink
    return bool((grey - paper).max() - level > level - (grey - paper).min())


def window_filter(image, size, combine):
    """combine (np.maximum or np.minimum) over the size x size window centred on each
    pixel of image (H, W); beyond the edges the image repeats its edge pixels. Windows of
    1, 2, 4, ... pixels are combined from two of half the width (about log2(size) passes
    along each axis), and a window of any size from two overlapping powers of two, which
    max and min do not mind. np.add is taken for size 3 only: the sum of a 3 x 3 window."""
    if combine is np.add and size != 3:
        raise ValueError("window_filter sums 3 x 3 windows only")
    for axis in (0, 1):
        image = np.moveaxis(image, axis, -1)
        n = image.shape[-1]
        padded = np.pad(image, [(0, 0), (size // 2, size - 1 - size // 2)], mode="edge")
        if combine is np.add:
            image = padded[:, :n] + padded[:, 1:n + 1] + padded[:, 2:n + 2]
        else:
            width, wide = 1, padded
            while 2 * width <= size:                       # wide[i]: padded[i:i + width]
                wide = combine(wide[:, :-width], wide[:, width:])
                width *= 2
            image = combine(wide[:, :n], wide[:, size - width:size - width + n])
        image = np.moveaxis(image, -1, axis)
    return image


def connected_pieces(mask):
    """The 8-connected pieces of mask (H, W) bool: (labels, boxes, areas). labels (H, W)
    holds 0 on paper and k = 1 .. K on piece k; boxes (K, 4) are (top, left, bottom,
    right), bottom and right exclusive; areas (K,) count each piece's pixels.

    The ink is taken as runs, the stretches of inked pixels along each row, and two runs
    in neighbouring rows that overlap, or touch at a corner, are of one piece. Each run
    starts with its own number; then, pass by pass, it takes the smallest number of the
    runs it touches, and the number held by the run that number names (pointer jumping),
    until nothing changes: a few passes over thousands of runs, not millions of pixels.
    """
    height, width = mask.shape
    edges = np.diff(mask.astype(np.int8), axis=1, prepend=0, append=0)    # (H, W + 1)
    rows, starts = np.nonzero(edges == 1)          # in reading order: by row, then column
    ends = np.nonzero(edges == -1)[1]              # one past each run's last pixel
    # Run b (row r + 1) touches the runs a of row r with end_a >= start_b and start_a <=
    # end_b: a stretch of them, found by binary search on positions counted row by row.
    line = width + 2
    first = np.searchsorted(rows * line + ends, (rows - 1) * line + starts)
    last = np.searchsorted(rows * line + starts, (rows - 1) * line + ends, side="right")
    count = np.maximum(last - first, 0)
    b = np.repeat(np.arange(len(rows)), count)
    a = np.repeat(first, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    label = np.arange(len(rows))
    while True:
        smallest = label.copy()
        np.minimum.at(smallest, a, label[b])
        np.minimum.at(smallest, b, label[a])
        for _ in range(4):
            smallest = smallest[smallest]                           # follow each owner
        if np.array_equal(smallest, label):
            break
        label = smallest
    roots, k = np.unique(label, return_inverse=True)                 # pieces 0 .. K-1
    lengths = ends - starts
    pixels = np.repeat(rows * width + starts, lengths) + np.arange(lengths.sum()) - \
        np.repeat(np.cumsum(lengths) - lengths, lengths)
    labels = np.zeros(height * width, dtype=np.int64)
    labels[pixels] = np.repeat(k + 1, lengths)
    boxes = np.zeros((len(roots), 4), dtype=np.int64)
    boxes[:, :2] = [height, width]
    np.minimum.at(boxes[:, 0], k, rows)
    np.minimum.at(boxes[:, 1], k, starts)
    np.maximum.at(boxes[:, 2], k, rows + 1)
    np.maximum.at(boxes[:, 3], k, ends)
    return labels.reshape(height, width), boxes, np.bincount(k, lengths, len(roots)).astype(np.int64)


def digit_groups(boxes, areas, shape, name="image"):
    """The pieces that make each digit, left to right: a list of (piece numbers, their
    box (top, left, bottom, right)). boxes (K, 4) and areas (K,) are the pieces', in an
    image of shape (H, W).

    Specks go first: pieces of under a tenth of a typical digit's ink that are also under
    0.4 of its height (the typical digit: the median of the pieces with a fifth of the
    largest one's ink or more); so do pieces along the image's edge taller than a digit
    or under half as tall (the edge of a shadow or of the page, the dark tip of a shadow
    in a corner). Pieces whose columns overlap by half the narrower one's width (a
    quarter, for a bar twice as wide as tall), less than half a digit apart vertically,
    are one digit (a 5's top stroke, a 7's crossbar, a broken line). A group whose middle
    lies above or below the line the pieces' median tops and bottoms mark is not part of
    the number. A group under half a digit's height is no digit either: it joins the
    nearest digit if it lies within a quarter of a digit's height of it (a 5's top stroke
    drawn beyond its body), or is dropped (a blot).
    """
    heights, widths = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    big = areas >= 0.2 * areas.max() if len(areas) else np.zeros(0, dtype=bool)
    height, area = (np.median(heights[big]), np.median(areas[big])) if big.any() else (0, 0)
    kept = (areas >= 0.1 * area) | (np.maximum(heights, widths) >= 0.4 * height)
    on_edge = (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == shape[0]) | \
        (boxes[:, 3] == shape[1])
    kept &= ~(on_edge & ((heights > 1.25 * height) |
                         (np.maximum(heights, widths) < 0.5 * height)))
    boxes, pieces = boxes[kept], np.flatnonzero(kept) + 1
    top, left, bottom, right = boxes.T
    overlap = np.minimum(right[:, None], right) - np.maximum(left[:, None], left)
    narrower = np.minimum((right - left)[:, None], right - left)
    gap = np.maximum(top[:, None], top) - np.minimum(bottom[:, None], bottom)
    flat = (right - left) >= 2 * (bottom - top)                  # a bar: a 5's top, a 7's
    needed = np.where(flat[:, None] | flat[None, :], 0.25, 0.5) * narrower
    together = (overlap >= needed) & (gap < 0.5 * height)                    # (K, K)
    group = np.arange(len(boxes))
    for _ in range(len(boxes)):                                  # join transitively
        joined = np.where(together, group[None, :], len(boxes)).min(axis=1)
        if np.array_equal(joined, group):
            break
        group = joined
    members = [np.flatnonzero(group == g) for g in np.unique(group)]
    spans = np.array([[top[m].min(), left[m].min(), bottom[m].max(), right[m].max()]
                      for m in members]).reshape(-1, 4)
    members = [pieces[m] for m in members]
    line_top, line_bottom = np.median(boxes[:, 0]), np.median(boxes[:, 2])   # the number's
    middle = (spans[:, 0] + spans[:, 2]) / 2
    in_line = (middle > line_top) & (middle < line_bottom)                  # line of text
    members, spans = [m for m, keep in zip(members, in_line) if keep], spans[in_line]
    short = spans[:, 2] - spans[:, 0] < 0.5 * height
    if short.any() and not short.all():
        tall = np.flatnonzero(~short)
        for i in np.flatnonzero(short):
            gaps = np.maximum(spans[tall, 1] - spans[i, 3], spans[i, 1] - spans[tall, 3])
            j = tall[gaps.argmin()]
            if gaps.min() < 0.25 * height:
                members[j] = np.concatenate([members[j], members[i]])
                spans[j] = [min(spans[i, 0], spans[j, 0]), min(spans[i, 1], spans[j, 1]),
                            max(spans[i, 2], spans[j, 2]), max(spans[i, 3], spans[j, 3])]
        members, spans = [members[i] for i in tall], spans[tall]
    if not members:
        raise ImageError(f"{name}: no digits in a line found, only marks scattered above "
                         f"and below each other; expected a number written in one line")
    if len(members) > MAX_DIGITS:
        raise ImageError(f"{name}: {len(members)} separate marks of about digit size: more "
                         f"than a number of {MAX_DIGITS} digits; expected digits written on "
                         f"plain paper, in one line")
    order = np.argsort(spans[:, 1], kind="stable")
    return [(members[i], spans[i]) for i in order]


def prepare_digit(pixels, name="image"):
    """A picture of one digit as MNIST would have it: float32 (28, 28), ink 1, paper 0:
    its grey levels, the ink against the paper at its border (light ink on dark paper
    turned over), then centre_digit."""
    grey = grey_levels(pixels)
    ink = grey if light_ink(window_filter(grey, 3, np.add) / 9) else 1 - grey   # ink bright
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    ink = np.clip(ink - np.median(border), 0, None)                # the paper's shade is no ink
    if ink.max() < 0.1:
        raise ImageError(f"{name}: no digit found (the image is blank or has no contrast)")
    return centre_digit(ink)


def centre_digit(ink):
    """MNIST's preparation of a digit's ink (H, W), bright on 0: cropped to the ink,
    scaled so its longer side is 20 pixels, by area averaging; placed in 28 x 28 so that
    its centre of mass is on pixel (14, 14), within half a pixel, as MNIST's digits' are
    (their mean is 13.99, 14.03; half a pixel off, the network misreads about one digit
    in 300 more); brightest ink scaled to 1, like the training images' 255. float32 (28,
    28)."""
    top, left, bottom, right = ink_box(ink, 0.2)
    ink = pen_like_mnist(ink[top:bottom, left:right])
    scale = 20 / max(ink.shape)
    height = max(1, round(ink.shape[0] * scale))
    width = max(1, round(ink.shape[1] * scale))
    small = resize(ink, height, width)
    total = small.sum()
    centre_y = (small.sum(axis=1) @ np.arange(height)) / total
    centre_x = (small.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(14 - centre_y), 0, 28 - height))
    left = int(np.clip(round(14 - centre_x), 0, 28 - width))
    digit = np.zeros((28, 28))
    digit[top:top + height, left:left + width] = small
    return (digit / digit.max()).astype(np.float32)


def pen_like_mnist(ink):
    """ink (H, W), cropped to a digit, with strokes made as wide as MNIST's when they are
    finer: at MNIST's size (the longer side 20 pixels), a fine pen's line is a faint
    half-pixel that the network has rarely seen. Strokes narrower than PEN_WIDTH of the
    longer side (stroke_width of the ink above half the brightest) are widened by a
    maximum over a square window; ink (H + k - 1, W + k - 1) for a window of k."""
    width = stroke_width(np.pad(ink > 0.5 * ink.max(), 1))    # paper around: edges seen
    grow = int(round(PEN_WIDTH * max(ink.shape) - width))
    if grow < 1:
        return ink
    padded = np.pad(ink, ((grow // 2, grow - grow // 2),) * 2)
    return window_filter(padded, grow + 1, np.maximum)
