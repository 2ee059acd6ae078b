"""Tests of reader.py: from a picture's pixels to the digits, step by step, on glyphs
drawn here (0s, 1s and 7s) and a network trained on them (conftest.py)."""
import sys

import numpy as np
import pytest

from extras import reader
from extras.conftest import ALWAYS_0, glyph, rings_in_a_row
from extras.images import ImageError, write_png
from extras.judge import write_number


def test_prepared_digits_have_their_centre_of_mass_where_mnists_have_theirs():
    """MNIST's digits have their centre of mass on pixel (14, 14), on average: so have
    digits prepared here, drawn anywhere at any size (half a pixel off, the network
    misreads more of them)."""
    rng = np.random.default_rng(0)
    centres = []
    for k in range(40):
        big = np.kron(glyph((0, 1, 7)[k % 3], rng), np.ones((k % 5 + 2, k % 5 + 2), np.uint8))
        canvas = np.full((300, 300), 255, dtype=np.uint8)
        top, left = rng.integers(0, 300 - big.shape[0], 2)
        canvas[top:top + big.shape[0], left:left + big.shape[1]] = 255 - big
        prepared = reader.prepare_digit(canvas)
        y, x = np.mgrid[0:28, 0:28]
        centres.append([(prepared * y).sum() / prepared.sum(), (prepared * x).sum() / prepared.sum()])
    assert np.abs(np.mean(centres, axis=0) - 14).max() < 0.15


def test_a_digit_on_a_large_canvas_is_prepared_as_mnist_was():
    """A digit drawn large and off-centre comes out as MNIST's: 20 pixels on its longer
    side, centre of mass in the middle; transparency counts as white paper."""
    digit = np.zeros((28, 28))
    digit[6:22, 11:17] = 1                                      # a tall bar, 16 x 6, off-centre
    digit[6:9, 11:21] = 1                                       # with a flag: a '7'-ish shape
    big = np.kron(digit, np.ones((7, 7)))                       # drawn 7x larger
    canvas = np.full((400, 300), 255.0)
    canvas[30:30 + big.shape[0], 90:90 + big.shape[1]] = 255 * (1 - big)   # dark ink on white
    prepared = reader.prepare_digit(canvas.astype(np.uint8))
    assert prepared.shape == (28, 28) and prepared.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(prepared > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20            # the longer side is 20
    y, x = np.mgrid[0:28, 0:28]
    assert abs((prepared * y).sum() / prepared.sum() - 14) <= 0.5
    assert abs((prepared * x).sum() / prepared.sum() - 14) <= 0.5
    rgba = np.zeros((400, 300, 4), dtype=np.uint8)             # black ink, transparent paper
    rgba[..., 3] = 255 - canvas.astype(np.uint8)
    np.testing.assert_allclose(reader.prepare_digit(rgba), prepared, atol=0.02)


def test_a_blank_image_gets_a_message_not_a_crash():
    """A blank page, white or black, gets a message instead of a division by zero."""
    for blank in (np.full((50, 50), 255, dtype=np.uint8), np.zeros((50, 50), dtype=np.uint8)):
        with pytest.raises(ImageError, match="no digit found"):
            reader.prepare_digit(blank, "blank.png")


def test_connected_pieces_labels_each_piece_with_its_box_and_area():
    """Pixels touching by an edge or a corner are one piece, however winding (a snake of
    231 pixels here); each piece gets its box and its count of pixels."""
    mask = np.zeros((40, 60), dtype=bool)
    mask[2:5, 2:6] = True                                       # a 3 x 4 block
    mask[10, 10] = mask[11, 11] = mask[12, 12] = True           # a diagonal: one piece
    snake = np.zeros((21, 21), dtype=bool)                       # a long winding stroke:
    snake[::2] = True                                            # rows joined at
    snake[1::4, -1] = snake[3::4, 0] = True                      # alternate ends
    mask[15:36, 30:51] = snake
    labels, boxes, areas = reader.connected_pieces(mask)
    assert labels.max() == 3 and ((labels > 0) == mask).all()
    assert sorted(map(tuple, boxes.tolist())) == [(2, 2, 5, 6), (10, 10, 13, 13), (15, 30, 36, 51)]
    assert sorted(areas.tolist()) == sorted([12, 3, int(snake.sum())])


def boxes_of(image):
    """The pieces of ink of a white-paper image, as digit_groups wants them."""
    ink, threshold = reader.ink_strength(reader.grey_levels(image))
    labels, boxes, areas = reader.connected_pieces(ink > threshold)
    return boxes, areas, ink.shape


def test_a_5_whose_top_stroke_is_apart_is_one_digit_and_a_speck_is_dropped():
    """A detached top bar joins the body below it, though it reaches far to the right of
    it (less than half the body's width overlaps it); a dot is a speck, not a digit."""
    page = np.full((80, 120), 255, dtype=np.uint8)
    page[20:24, 40:70] = 0                                       # the 5's top bar, apart
    page[28:31, 30:34] = 0                                       # its body: down,
    page[28:44, 30:33] = 0
    page[42:45, 30:48] = 0                                       # across,
    page[42:60, 46:49] = 0                                       # down the belly
    page[58:61, 30:49] = 0
    page[50:52, 90:92] = 0                                       # a speck
    groups = reader.digit_groups(*boxes_of(page))
    assert len(groups) == 1 and len(groups[0][0]) == 2
    assert groups[0][1].tolist() == [20, 30, 61, 70]


def test_a_page_of_marks_is_not_a_number():
    """More than MAX_DIGITS digit-sized marks get one line saying what was seen."""
    page = np.full((100, 1000), 255, dtype=np.uint8)
    for k in range(40):
        page[30:60, 10 + 24 * k:20 + 24 * k] = 0
    with pytest.raises(ImageError, match="40 separate marks"):
        reader.digit_groups(*boxes_of(page), name="page.png")


def test_marks_in_a_staircase_are_not_a_number():
    """Rings stepping down the page, none on the line the others mark: one clear error,
    not a crash or an empty reading."""
    page = np.full((120, 200), 255, dtype=np.uint8)
    for k in range(4):
        top, left = 10 + 25 * k, 20 + 40 * k
        page[top:top + 15, left:left + 12] = 0
        page[top + 3:top + 12, left + 3:left + 9] = 255
    with pytest.raises(ImageError, match="stairs.png: no digits in a line found"):
        reader.digit_groups(*boxes_of(page), name="stairs.png")


def test_pixels_that_are_not_uint8_are_refused_with_the_conversion(glyph_network):
    """Floats in [0, 1] would read as a black page: the error says how to convert them."""
    page = write_number([glyph(1, np.random.default_rng(0))], "apart", np.random.default_rng(0))
    with pytest.raises(ImageError, match=r"np.round\(255 \* pixels\).astype\(np.uint8\)"):
        reader.read_number(page / 255, glyph_network, "relu")


def test_a_blank_page_is_refused():
    """White, black or grey with noise: no ink found, said so."""
    rng = np.random.default_rng(0)
    for blank in (np.full((60, 90), 255), np.zeros((60, 90)),
                  np.clip(rng.normal(128, 4, (60, 90)), 0, 255)):
        with pytest.raises(ImageError, match="blank.png: no ink found"):
            reader.ink_strength(reader.grey_levels(blank.astype(np.uint8)), "blank.png")


def test_ink_is_found_under_uneven_light_a_shadow_and_noise():
    """A ring photographed on grey paper, lit from one side, half in a shadow, with sensor
    noise: what counts as ink is the ring, and neither the shadow nor the light."""
    rng = np.random.default_rng(0)
    drawn = np.pad(np.kron(glyph(0, rng), np.ones((4, 4), dtype=np.uint8)), 40)  # (192, 192)
    ring = drawn > 128
    edges = reader.window_filter(drawn > 0, 3, np.maximum)  # with its grey edges, and a pixel
    light = 0.45 + 0.4 * np.linspace(0, 1, ring.shape[1])[None, :]
    light = light - 0.2 * (np.arange(ring.shape[0])[:, None] > 100)           # a shadow
    grey = light * (1 - 0.7 * ring) + rng.normal(0, 0.03, ring.shape)
    ink, threshold = reader.ink_strength(np.clip(grey, 0, 1).astype(np.float32))
    found = ink > threshold
    assert (found & ring).sum() > 0.85 * ring.sum()              # the ring, nearly all
    assert (found & ~edges).sum() < 0.02 * ring.sum()            # and nothing else


def test_light_ink_on_dark_paper_is_read_as_dark_on_light(glyph_network):
    """Chalk on a blackboard reads as pen on paper."""
    digits = [glyph(d, np.random.default_rng(d)) for d in (1, 7, 0)]
    page = write_number(digits, "apart", np.random.default_rng(0), height=60)
    for image in (page, 255 - page):
        assert reader.read_number(image, glyph_network, "relu")["text"] == "170"


def test_a_cut_between_touching_digits_goes_around_their_strokes():
    """Two rings touching at one point: the cut path from top to bottom crosses only the
    joint, where a straight cut through the expected column would cross more strokes."""
    ring = np.kron(glyph(0, np.random.default_rng(0)), np.ones((3, 3), np.uint8)) > 128
    columns = np.flatnonzero(ring.any(axis=0))
    ring = ring[:, columns[0]:columns[-1] + 1]
    box = np.zeros((ring.shape[0], 2 * ring.shape[1] - 2), dtype=bool)
    box[:, :ring.shape[1]] = ring
    box[:, ring.shape[1] - 2:] |= ring
    path = reader.cut_paths(box, [box.shape[1] / 2 + 6], 8)[0]     # expected a bit off
    crossed = box[np.arange(len(path)), path].sum()
    straight = min(box[:, c].sum() for c in range(box.shape[1] // 2 - 2, box.shape[1] // 2 + 15))
    assert crossed < straight and (np.abs(np.diff(path)) <= 1).all()


def test_one_bold_stroke_is_one_digit_even_in_a_tight_crop(glyph_network, glyph_judge):
    """A marker's 1, a solid bar, cropped tight: it is ink (not paper, though it fills
    most of the picture), and one digit: a cut down its length, through ink in every row,
    costs too much to be taken (it was read as 11)."""
    for width, height, margin in ((40, 200, 10), (60, 200, 5), (30, 120, 40)):
        page = np.full((height + 2 * margin, width + 2 * margin), 255, np.uint8)
        page[margin:margin + height, margin:margin + width] = 20
        assert reader.read_number(page, glyph_network, "relu", judge=glyph_judge)["text"] == "1"


def test_a_shape_no_digit_has_costs_its_reading():
    """shape_cost: nothing for a candidate shaped as a 0 often is and as tall as its
    group; more and more for one two or three times wider than tall read as a 0 (a pair
    or more, squeezed into one); something for a stroke half as tall as its group."""
    parts = np.zeros((4, 60, 180), dtype=bool)
    parts[0, :, :40] = True                                      # 60 tall, 40 wide
    parts[1, :, :180] = True                                     # three times wider
    parts[2, :, :120] = True                                     # twice
    parts[3, 15:45, :20] = True                                  # half as tall
    cost = reader.shape_cost(parts, np.array([0, 0, 0, 1]), 60)
    assert cost[0] == 0 and cost[1] > cost[2] > 1 and cost[3] > 1


def test_a_group_far_wider_than_any_digit_is_not_read_as_one():
    """A network that reads anything as a 0, and is sure of it, cannot tell one ring from
    four touching in a row; their shapes can: one ring is one digit, and four, three times
    wider than tall, are not one."""
    params = ALWAYS_0
    for count, read in ((1, "0"), (4, "00")):
        assert reader.read_number(rings_in_a_row(count), params, "relu")["text"] == read


def test_a_digit_read_without_confidence_is_marked_and_the_reading_still_comes_first():
    """Rings in a row, apart, read by a network sure they are 0s and by one that gives a
    0 only 45%: the second's digits are doubtful, marked with a ? in `marked` and in the
    printed line, whose first word stays the digits read (what scripts take)."""
    unsure = {"W1": ALWAYS_0["W1"], "b1": np.eye(10, dtype=np.float32)[0] * 2}
    page = np.hstack([rings_in_a_row(1), rings_in_a_row(1)])
    sure_reading = reader.read_number(page, ALWAYS_0, "relu")
    unsure_reading = reader.read_number(page, unsure, "relu")
    assert sure_reading["marked"] == "00" and not sure_reading["doubt"].any()
    assert unsure_reading["marked"] == "0?0?" and unsure_reading["doubt"].all()
    classes = [str(k) for k in range(10)]
    assert "unsure" not in reader.answer(sure_reading, classes)
    line = reader.answer(unsure_reading, classes)
    assert line.split()[0] == "00" and "unsure: 0?0?" in line
    one = dict(unsure_reading, probs=unsure_reading["probs"][:1])
    assert reader.answer(one, classes).split()[0] == "0" and reader.answer(
        one, classes).endswith("unsure")


def test_a_shadows_tip_in_a_corner_and_a_mark_below_the_line_are_not_digits():
    """Two digits; the dark tip of a shadow in the image's corner (too small to be a digit
    cut by the edge); a mark reaching into the line from below, its middle under it."""
    page = np.full((100, 200), 255, dtype=np.uint8)
    for top, left, bottom, right in ((30, 40, 70, 60), (30, 80, 70, 105), (62, 130, 90, 150)):
        page[top:bottom, left:right] = 0                         # two digits (rings), and
        page[top + 4:bottom - 4, left + 4:right - 4] = 255       # the mark below them
    rows, cols = np.mgrid[85:100, 185:200]
    page[85:100, 185:200][rows + cols > 284] = 0                 # the tip, in the corner
    groups = reader.digit_groups(*boxes_of(page))
    assert [span.tolist() for _, span in groups] == [[30, 40, 70, 60], [30, 80, 70, 105]]


def test_a_blot_between_digits_is_dropped_and_a_bar_beside_one_joins_it():
    """Marks under half a digit's height are no digit of their own: a blot far from both
    digits is dropped; a 5's top bar drawn just beyond its body joins that digit."""
    page = np.full((100, 200), 255, dtype=np.uint8)
    for top, left, bottom, right in ((30, 40, 70, 60), (30, 100, 70, 120)):
        page[top:bottom, left:right] = 0                         # two digits (rings)
        page[top + 4:bottom - 4, left + 4:right - 4] = 255
    page[45:55, 75:85] = 0                                       # a blot between them
    page[30:34, 123:137] = 0                                     # a bar beyond the second
    groups = reader.digit_groups(*boxes_of(page))
    assert [span.tolist() for _, span in groups] == [[30, 40, 70, 60], [30, 100, 70, 137]]
    assert [len(pieces) for pieces, _ in groups] == [1, 2]


@pytest.mark.parametrize("kind, at_least", [("apart", 9), ("photo", 9), ("touching", 6)])
def test_numbers_are_read_left_to_right(glyph_network, kind, at_least):
    """Numbers of 0s, 1s and 7s, apart on white paper, on unevenly lit grey paper with a
    shadow and noise (RGB), and close or touching: 10 of each, read exactly at least 9
    times (touching: 6, which is about what the reader manages on MNIST's digits)."""
    rng = np.random.default_rng(1)
    read = 0
    for _ in range(10):
        truth = rng.choice([0, 1, 7], int(rng.integers(2, 6)))
        picture = write_number([glyph(d, rng) for d in truth], kind, rng)
        read += reader.read_number(picture, glyph_network, "relu")["text"] == \
            "".join(map(str, truth))
    assert read >= at_least


def test_a_digit_on_photographed_paper_reads_as_it_does_on_white(glyph_network):
    """The same 7, on white paper and photographed on grey paper under uneven light with
    noise: the same answer, and nearly the same input to the network."""
    rng = np.random.default_rng(5)
    seven = [glyph(7, rng)]
    clean = reader.read_number(write_number(seven, "apart", np.random.default_rng(0), 80),
                              glyph_network, "relu")
    photo = reader.read_number(write_number(seven, "photo", np.random.default_rng(0), 80),
                              glyph_network, "relu")
    assert clean["text"] == photo["text"] == "7"
    assert np.abs(clean["inputs"] - photo["inputs"]).mean() < 0.05


def test_a_jpeg_without_pillow_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """No Pillow (an import that fails): a JPEG gets an error that says pip install
    pillow and the page; a PNG is read all the same."""
    monkeypatch.setitem(sys.modules, "PIL", None)               # import PIL fails
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    with pytest.raises(ImageError, match="a JPEG file.*pip install pillow.*--serve"):
        reader.read_photo(str(photo))
    drawing = tmp_path / "drawing.png"
    drawing.write_bytes(write_png(rings_in_a_row(2)))
    assert reader.read_photo(str(drawing)).shape[:2] == rings_in_a_row(2).shape


def test_a_jpeg_is_read_through_pillow_upright(tmp_path):
    """With Pillow installed: a JPEG of three rings, stored on its side with the camera's
    note to turn it (EXIF orientation 6), is read upright; damage gets an ImageError."""
    Image = pytest.importorskip("PIL.Image")
    page = rings_in_a_row(3)
    exif = Image.Exif()
    exif[0x0112] = 6                                          # rotate 90 degrees to view
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.rot90(page)).save(path, quality=95, exif=exif)
    pixels = reader.read_photo(str(path))
    assert pixels.shape[:2] == page.shape
    assert np.abs(pixels[:, :, 0].astype(int) - page).mean() < 4
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageError, match="photo.jpg"):
        reader.read_photo(str(path))


def ring_drawn_with(pen, size=100):
    """A ring size pixels tall, its line pen pixels wide, bright on 0."""
    y, x = np.mgrid[0:size + 20, 0:size + 20] - (size + 20) / 2
    return np.clip(pen / 2 + 0.5 - np.abs(np.hypot(y, x * 1.3) - size / 2), 0, 1)


def test_a_fine_pens_digit_is_prepared_with_strokes_as_wide_as_mnists():
    """A ring drawn with a 1-pixel pen, 100 pixels tall, would be a faint half-pixel line
    at MNIST's size; it is prepared with strokes about as wide as MNIST's finest, and a
    ring drawn as boldly as MNIST's digits is left as it was."""
    fine = reader.centre_digit(ring_drawn_with(1))
    width = reader.stroke_width(fine > 0.5)
    assert width >= 0.8 * reader.PEN_WIDTH * 20 and (fine > 0.5).sum() > 60
    bold = ring_drawn_with(20)
    assert reader.pen_like_mnist(bold) is bold
    grown = reader.pen_like_mnist(ring_drawn_with(2))
    assert grown.shape[0] > 120 and reader.stroke_width(grown > 0.5) > 10
    one = np.zeros((100, 1))                   # a 1 drawn with a 1-pixel pen: as wide as
    one[:, 0] = 1                              # MNIST's finest stroke of its height
    assert round(reader.PEN_WIDTH * 100) - 1 <= reader.pen_like_mnist(one).shape[1] <= \
        round(reader.PEN_WIDTH * 100) + 1


def test_a_picture_of_one_digit_is_prepared_as_a_digit_of_a_number_and_never_cut(glyph_network):
    """digit_input gives what read_number gives the network for a lone digit, keeps two
    touching rings whole (a picture to teach is one digit, whatever it looks like), and
    reads a bold stroke cropped close as one bar, on a wider sheet, where read_number
    finds only bits of its edges; a fine pen's small digit far from the crop's edges is
    read as it is."""
    page = write_number(np.array([glyph(7, np.random.default_rng(1))]), "apart",
                        np.random.default_rng(2), height=60)
    np.testing.assert_array_equal(reader.digit_input(page),
                                  reader.read_number(page, glyph_network, "relu")["inputs"][0])
    pair = reader.digit_input(rings_in_a_row(2))
    columns = np.flatnonzero(pair.max(axis=0) > 0.3)
    assert columns[-1] - columns[0] >= 18                     # both rings, side by side
    y, x = np.mgrid[0:240, 0:70]                    # a marker's 1, 20 pixels wide, cropped
    along = np.clip(((x - 30) * 10 + (y - 30) * 180) / (10 ** 2 + 180 ** 2), 0, 1)  # close
    distance = np.hypot(x - 30 - 10 * along, y - 30 - 180 * along)
    close = np.round(255 * (1 - np.clip(10.5 - distance, 0, 1))).astype(np.uint8)
    with pytest.raises(ImageError, match="no digits in a line"):
        reader.read_number(close, glyph_network, "relu")          # it found the edges only
    one = reader.digit_input(close)
    assert one.max() == 1 and 2 <= (one.max(axis=0) > 0.5).sum() <= 8   # a bar, upright
    small = np.full((140, 120), 255, np.uint8)       # a 1-pixel 1 with paper all round: a
    small[20:120, 60] = 0                             # sliver of the picture's pixels
    assert (reader.digit_input(small).max(axis=0) > 0.5).sum() >= 2
