"""The local page (--serve): a web server on this computer only (127.0.0.1), from the
standard library. GET / is page.html, where you write digits with the mouse, a finger or a
pen, or open a photo (the browser decodes any format it shows); the page sends the grey
pixels to POST /read as JSON and shows what comes back. In its teach mode it asks for each
digit in turn and sends the pictures to POST /teach, which fine-tunes the network on them
(teach.py) and answers how each was read before and after. Every request is bounded in size
and in time; a bad one gets HTTP 400 and a one-line JSON error, and the server goes on.
"""
import base64
from pathlib import Path

import numpy as np

import nn
from extras import log, reader
from extras.images import png_uri
from extras.local_server import Handler, listen, serve_until_interrupted
from extras.report import weight_pictures

MAX_BODY = 4_000_000          # bytes of JSON a request may send
MAX_PIXELS = 2_000_000        # pixels an image may have (the page sends at most 1000 x 1000)
TOP_UNITS = 8                 # first-layer units shown for a single digit
MAX_PICTURES = 60             # pictures a POST /teach may send (the page asks for 30)
PAGE = Path(__file__).with_name("page.html")


def serve(params, activation, port, judge=None, teacher=None):
    """--serve: answer the page, POST /read and POST /teach on 127.0.0.1:port until Ctrl-C."""
    return serve_until_interrupted(make_server(params, activation, port, judge, teacher),
                                   "reading digits")


def make_server(params, activation, port, judge=None, teacher=None):
    """A server bound to 127.0.0.1:port (0: any free port) that reads numbers with params
    (and the reader's judge, if given); call its serve_forever() to run it. teacher:
    teacher(inputs (K, 28, 28), labels (K,)) teaches params the pictures, in place, and
    returns teach.teach_pictures' answer (and "saved": where the taught network was saved,
    or None); without it, POST /teach says that this server cannot teach."""
    page = PAGE.read_bytes()

    class PageHandler(Handler):
        def do_GET(self):
            if self.path.split("?")[0] != "/":
                return self.answer(404, {"error": f"no page {self.path[:100]!r}; try /"})
            self.send(200, "text/html; charset=utf-8", page)

        def do_POST(self):
            if self.path not in ("/read", "/teach"):
                return self.answer(404, {"error": "POST to /read or /teach"})
            try:
                request = self.read_json(MAX_BODY)
                if self.path == "/teach":
                    return self.answer(200, teach_json(request, teacher))
                pixels = request_pixels(request)
                reading = reader.read_number(pixels, params, activation, "the image", judge)
                self.answer(200, reading_json(reading, params, activation))
            except (ValueError, KeyError, TypeError) as error:     # ImageError included
                self.answer(400, {"error": str(error).splitlines()[0]})
            except OSError:
                raise                 # the client's connection failed: see handle_error
            except Exception as error:                # a bug of ours: say so, keep serving
                log(f"error answering POST {self.path}: {type(error).__name__}: {error}")
                self.answer(500, {"error": f"the server failed ({type(error).__name__})"})

    return listen(PageHandler, port)


def request_pixels(request):
    """uint8 pixels (H, W) from a POST /read request's JSON: {"width": W, "height": H,
    "pixels": base64 of the W * H grey levels, row by row, 0 black, 255 white}; a
    ValueError saying what is wrong with anything else."""
    if not isinstance(request, dict):
        raise ValueError('send {"width": W, "height": H, "pixels": base64 of W * H bytes}')
    width, height, encoded = (request.get(key) for key in ("width", "height", "pixels"))
    if not (type(width) is int and type(height) is int and width > 0 and height > 0):
        raise ValueError(f"width and height must be whole numbers > 0, got {width!r} and "
                         f"{height!r}")
    if width * height > MAX_PIXELS:
        raise ValueError(f"{width} x {height} pixels is too large: at most {MAX_PIXELS:,}")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (TypeError, ValueError):
        raise ValueError("pixels must be base64 text") from None
    if len(data) != width * height:
        raise ValueError(f"{len(data):,} pixels sent for a {width} x {height} image "
                         f"({width * height:,})")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width)


def teach_json(request, teacher):
    """POST /teach: {"pictures": [{"digit": 0-9, "width", "height", "pixels"}, ...]}, each
    picture as POST /read's, one digit each, taught by teacher; the answer says how each
    picture was read before and after ("7 (98%)"), MNIST's validation accuracy before and
    after, the doctor's findings and where the taught network was saved."""
    if teacher is None:
        raise ValueError("this server cannot teach: --teach and the page's teach mode need a "
                         "network trained on mnist")
    pictures = request.get("pictures") if isinstance(request, dict) else None
    if not isinstance(pictures, list) or not 1 <= len(pictures) <= MAX_PICTURES:
        raise ValueError(f'send {{"pictures": [{{"digit": 0-9, "width": W, "height": H, '
                         f'"pixels": base64}}, ...]}}: 1 to {MAX_PICTURES} pictures')
    inputs, labels = [], []
    for k, picture in enumerate(pictures):
        digit = picture.get("digit") if isinstance(picture, dict) else None
        if type(digit) is not int or not 0 <= digit <= 9:
            raise ValueError(f"picture {k + 1}: its digit must be 0 to 9, got {digit!r}")
        pixels = request_pixels(picture)
        inputs.append(reader.digit_input(pixels, f"picture {k + 1} (a {digit})"))
        labels.append(digit)
    from extras import teach
    taught = teacher(np.array(inputs), np.array(labels))
    return {"before": [teach.said(probs) for probs in taught["before"]],
            "after": [teach.said(probs) for probs in taught["after"]],
            "right_before": int((taught["before"].argmax(axis=1) == labels).sum()),
            "right_after": int((taught["after"].argmax(axis=1) == labels).sum()),
            "val_before": taught["val_before"], "val_after": taught["val_after"],
            "findings": [f"{found['check']}: {found['seen']}" for found in taught["findings"]],
            "pictures": [png_uri(digit) for digit in inputs], "saved": taught.get("saved")}


def reading_json(reading, params, activation):
    """read_number()'s answer as JSON for the page: the text and digits, each digit's ten
    probabilities, which digits are doubtful (marked: the text with a ? after each), the
    28 x 28 inputs (as numbers and as PNG pictures), where each digit was found, and for
    a single digit the first-layer units that fired most."""
    units = []
    if len(reading["digits"]) == 1 and "W2" in params:          # a hidden layer to show
        _, cache = nn.forward(params, reading["inputs"][:1].reshape(1, -1), activation)
        fired = cache["a1"][0]                                  # the first layer's (H1,)
        top = np.argsort(-fired)[:TOP_UNITS]
        for k, picture in zip(top, weight_pictures(params["W1"], top)):
            units.append({"unit": int(k), "fired": round(float(fired[k]), 3),
                          "picture": png_uri(picture)})
    return {"text": reading["text"], "marked": reading["marked"],
            "doubt": reading["doubt"].tolist(), "unsure_below": reader.DOUBTFUL, "digits": reading["digits"].tolist(),
            "probs": np.round(reading["probs"], 4).tolist(),
            "inputs": np.round(reading["inputs"], 3).tolist(),
            "pictures": [png_uri(digit) for digit in reading["inputs"]],
            "boxes": reading["boxes"].tolist(), "units": units}
