"""Tests of page.py: the local page's server, on a free port of 127.0.0.1."""
import base64
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from extras import local_server, page, reader
from extras.conftest import ALWAYS_0, chromium_page, glyph, rings_in_a_row
from extras.judge import write_number


@pytest.fixture
def page_server(glyph_network):
    """The --serve server on a free port of 127.0.0.1, in a thread: its address."""
    server = page.make_server(glyph_network, "relu", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def post(address, body, path="/read"):
    """POST body (bytes) to path: (HTTP status, the JSON answer)."""
    request = urllib.request.Request(f"http://{address}{path}", data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def grey_request(image):
    """The JSON body the page sends for a grey uint8 image (H, W)."""
    return json.dumps({"width": image.shape[1], "height": image.shape[0],
                       "pixels": base64.b64encode(image.tobytes()).decode()}).encode()


def test_the_page_server_reads_a_digit_and_a_number(page_server):
    """POST /read answers the reading, each digit's probabilities and 28 x 28 input, and
    for one digit the first-layer units that fired most; GET / is the page, self-contained."""
    rng = np.random.default_rng(0)
    status, answer = post(page_server, grey_request(write_number([glyph(7, rng)], "apart", rng, 80)))
    assert status == 200 and answer["text"] == "7" and answer["digits"] == [7]
    assert np.array(answer["inputs"]).shape == (1, 28, 28) and len(answer["probs"][0]) == 10
    assert len(answer["units"]) == page.TOP_UNITS
    assert answer["pictures"][0].startswith("data:image/png")
    digits = [glyph(d, rng) for d in (1, 7, 0)]
    status, answer = post(page_server, grey_request(write_number(digits, "apart", rng)))
    assert status == 200 and answer["text"] == "170" and answer["units"] == []
    assert np.array(answer["inputs"]).shape == (3, 28, 28)
    with urllib.request.urlopen(f"http://{page_server}/", timeout=10) as reply:
        text = reply.read().decode()
    assert "<canvas" in text and 'fetch("/read"' in text
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", text)         # nothing from outside


def test_the_page_is_told_which_digits_are_doubtful():
    """A reading whose digits the network gives 45% each: the JSON marks both, so the page
    can show '0?0?'."""
    unsure = {"W1": ALWAYS_0["W1"], "b1": np.eye(10, dtype=np.float32)[0] * 2}
    reading = reader.read_number(np.hstack([rings_in_a_row(1)] * 2), unsure, "relu")
    answer = page.reading_json(reading, unsure, "relu")
    assert answer["text"] == "00" and answer["marked"] == "0?0?"
    assert answer["doubt"] == [True, True] and answer["unsure_below"] == reader.DOUBTFUL


def test_the_page_server_answers_bad_requests_with_400_and_carries_on(page_server):
    """Not JSON, the wrong fields or shape, empty, no ink, too large: each gets HTTP 400 and
    a one-line JSON error, and the next good request is answered as if nothing happened."""
    blank = np.full((40, 60), 255, dtype=np.uint8)
    huge = {"width": 3000, "height": 3000, "pixels": ""}
    bad = [b"not json", b"[1, 2]", json.dumps({"width": 2}).encode(),
           json.dumps({"width": 2, "height": 2, "pixels": "AAAA"}).encode(),       # 3 bytes
           json.dumps({"width": 0, "height": 0, "pixels": ""}).encode(),
           json.dumps({"width": 2, "height": 2, "pixels": "not base64!"}).encode(),
           grey_request(blank), json.dumps(huge).encode()]
    for body in bad:
        status, answer = post(page_server, body)
        assert status == 400 and set(answer) == {"error"} and "\n" not in answer["error"]
    too_long = http.client.HTTPConnection(page_server, timeout=10)
    too_long.putrequest("POST", "/read")              # announces more than MAX_BODY bytes
    too_long.putheader("Content-Length", str(page.MAX_BODY + 1))
    too_long.endheaders()
    reply = too_long.getresponse()
    assert reply.status == 400 and "at most" in json.loads(reply.read())["error"]
    too_long.close()
    rng = np.random.default_rng(1)
    status, answer = post(page_server, grey_request(write_number([glyph(0, rng)], "apart", rng, 60)))
    assert status == 200 and answer["text"] == "0"


def test_a_client_that_stalls_is_hung_up_on_and_said_in_one_line(glyph_network, monkeypatch,
                                                                    capsys):
    """A client that announces a body and sends none, or trickles its header, is hung up
    on when its time is up, not held for ever; each such end is one line, no traceback."""
    monkeypatch.setattr(local_server, "REQUEST_SECONDS", 1)
    server = page.make_server(glyph_network, "relu", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    clients = [socket.create_connection(server.server_address) for _ in range(3)]
    try:
        clients[0].sendall(b"POST /read HTTP/1.1\r\nContent-Length: 4000000\r\n\r\n{")
        clients[1].sendall(b"POST /re")                       # a header that never ends
        started = time.monotonic()
        for client in clients[:2]:
            client.settimeout(30)
            assert client.recv(100) == b""                    # hung up on, not kept waiting
        assert time.monotonic() - started < 10                # after 1 s, on a busy machine
        clients[2].close()                                    # hangs up before a word
        time.sleep(0.3)
    finally:
        for client in clients:
            client.close()
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 3


def test_serve_says_when_its_port_is_taken(glyph_network):
    """A port in use is one line naming --port, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="choose another port with --port N"):
            page.serve(glyph_network, "relu", taken.getsockname()[1])


def fake_teacher(taught):
    """A teacher that teaches nothing: it notes the pictures and labels it is given in
    taught, and answers that each was read as a 1, then as its own digit."""
    def teacher(inputs, labels):
        taught.append((inputs, labels))
        before = np.tile(np.eye(10)[1], (len(labels), 1))
        return {"before": before, "after": np.eye(10)[labels], "val_before": 0.99,
                "val_after": 0.985, "findings": [], "saved": None}
    return teacher


@pytest.fixture
def teaching_server(glyph_network):
    """The --serve server with a fake teacher: (its address, what the teacher was given)."""
    taught = []
    server = page.make_server(glyph_network, "relu", 0, teacher=fake_teacher(taught))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", taught
    server.shutdown()
    server.server_close()


def teach_request(digits, rng, **changes):
    """The JSON body the page's teach mode sends: a picture of a glyph per digit."""
    pictures = []
    for digit in digits:
        image = write_number([glyph(digit, rng)], "apart", rng, 60)
        pictures.append(dict({"digit": int(digit), "width": image.shape[1], "height": image.shape[0],
                              "pixels": base64.b64encode(image.tobytes()).decode()}, **changes))
    return json.dumps({"pictures": pictures}).encode()


def test_post_teach_teaches_the_pictures_and_refuses_what_is_not_one(teaching_server,
                                                                     page_server):
    """POST /teach hands the teacher each picture prepared as a digit of a number, with its
    digit, and answers each reading before and after; a bad request (no pictures, a digit
    of 10, a blank picture, too many) gets 400 and teaches nothing; a server without a
    teacher says it cannot teach."""
    address, taught = teaching_server
    rng = np.random.default_rng(0)
    status, answer = post(address, teach_request([0, 7, 1], rng), "/teach")
    assert status == 200 and answer["before"] == ["1 (100%)"] * 3
    assert answer["after"] == ["0 (100%)", "7 (100%)", "1 (100%)"]
    assert answer["right_before"] == 1 and answer["right_after"] == 3
    assert answer["val_after"] == 0.985 and len(answer["pictures"]) == 3
    inputs, labels = taught[0]
    assert inputs.shape == (3, 28, 28) and labels.tolist() == [0, 7, 1]
    blank = base64.b64encode(np.full((30, 30), 255, np.uint8).tobytes()).decode()
    for body in (json.dumps({"pictures": []}).encode(), teach_request([3], rng, digit=10),
                 teach_request([3], rng, digit="3"), teach_request([0], rng, pixels=blank,
                                                                   width=30, height=30),
                 teach_request([0] * (page.MAX_PICTURES + 1), rng)):
        status, answer = post(address, body, "/teach")
        assert status == 400 and "\n" not in answer["error"]
    assert len(taught) == 1
    status, answer = post(page_server, teach_request([0], rng), "/teach")
    assert status == 400 and "cannot teach" in answer["error"]


def test_in_a_real_browser_the_teach_mode_asks_for_each_digit_and_shows_before_and_after(
        teaching_server, tmp_path):
    """Chromium: the teach mode asks for a 0, three times, then a 1; a picture written and
    kept is sent with its digit when "Teach now" is pressed, and the readings before and
    after are shown, row by row."""
    address, taught = teaching_server
    with chromium_page(1100, 900) as page_:
        page_.goto(f"http://{address}/")
        page_.click("#teach-start")
        assert page_.text_content("#ask") == "Write a 0 (1 of 3)"
        box = page_.locator("#pad").bounding_box()
        for k in range(4):
            x, y = box["x"] + 100 + 150 * k, box["y"] + 60
            page_.mouse.move(x, y)
            page_.mouse.down()
            for step in range(1, 11):                               # a stroke down: a 1
                page_.mouse.move(x + step, y + 18 * step)
            page_.mouse.up()
            page_.click("#keep")
        assert page_.text_content("#ask") == "Write a 1 (2 of 3)"
        page_.click("#teach-now")
        page_.wait_for_selector("table.taught")
        assert page_.locator("table.taught tr").count() == 1 + 4
        page_.screenshot(path=str(tmp_path / "teach.png"), full_page=True)
    inputs, labels = taught[0]
    assert labels.tolist() == [0, 0, 0, 1] and inputs.shape == (4, 28, 28)
