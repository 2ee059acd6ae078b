"""Tests of the live page (--watch): nn.train's callbacks fill it, pause holds training
after the current batch, stop ends it as Ctrl-C does; and, where Playwright and Chromium
are installed, a one-epoch run watched in a real browser."""
import http.client
import json
import threading
import time

import numpy as np
import pytest

import nn
from extras import watch
from extras.conftest import chromium_page


def digits_like(n=2000, seed=0):
    """Random 28 x 28 'images' whose class is where their ink is: learnable, MNIST-shaped."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    X = rng.random((n, 784)).astype(np.float32) * 0.2
    for k in range(10):
        X[labels == k, 70 * k:70 * k + 70] += 0.8
    return X, labels


@pytest.fixture
def live():
    """A LiveRun of a small network on digits_like, its server on a free port, and a
    function that trains it in a thread as mnist.py --watch does."""
    X, labels = digits_like()
    params = nn.init_params([784, 32, 10], rng=0)
    asked = []
    run = watch.LiveRun(params, "relu", X[1500:], labels[1500:], epochs=3)
    server = watch.make_server(run, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def train(epochs=3, batch_size=10):
        thread = threading.Thread(target=nn.train, daemon=True, args=(params, X[:1500], labels[:1500]), kwargs=dict(
            epochs=epochs, batch_size=batch_size, lr=1e-3, optimizer="adam", X_val=X[1500:],
            targets_val=labels[1500:], on_epoch=run.on_epoch, on_batch=run.on_batch,
            should_stop=lambda: run.should_stop(lambda: bool(asked))))
        thread.start()
        return thread
    yield f"127.0.0.1:{server.server_address[1]}", run, train, asked
    run.finish()
    server.shutdown()
    server.server_close()


def request(address, method, path):
    connection = http.client.HTTPConnection(address, timeout=20)
    connection.request(method, path)
    reply = connection.getresponse()
    answer = reply.status, json.loads(reply.read())
    connection.close()
    return answer


def test_the_page_follows_the_run_pauses_it_and_stops_it(live):
    """Batch by batch, the loss and the step; epoch by epoch, the records (with each
    layer's health) and the findings. Paused, the step stays; stopped, training ends
    after the current batch, as Ctrl-C ends it."""
    address, run, train, _ = live
    thread = train(epochs=50)
    while run.step < 20:
        time.sleep(0.01)
    status, state = request(address, "POST", "/pause")
    assert status == 200 and state["paused"]
    time.sleep(0.3)
    held = request(address, "GET", "/state")[1]["step"]
    time.sleep(0.5)
    assert request(address, "GET", "/state")[1]["step"] == held
    request(address, "POST", "/resume")
    while not run.history:
        time.sleep(0.01)
    state = request(address, "GET", "/state")[1]
    assert state["step"] > held and len(state["losses"]) == state["step"] >= 150
    assert state["history"][0]["layers"][0]["weight_rms"] > 0 and "settings" not in state["history"][0]
    assert {"step", "epoch", "loss", "train_accuracy", "val_accuracy", "findings"} <= set(state)
    request(address, "POST", "/stop")
    thread.join(10)
    assert not thread.is_alive() and run.stop_asked and len(run.history) < 50


def test_ctrl_c_stops_a_paused_run(live):
    """A run paused on the page still stops at Ctrl-C (mnist.py's should_stop)."""
    address, run, train, asked = live
    thread = train(epochs=50)
    while run.step < 5:
        time.sleep(0.01)
    request(address, "POST", "/pause")
    time.sleep(0.3)
    asked.append(True)
    thread.join(10)
    assert not thread.is_alive()


def test_the_curve_stays_bounded_however_long_the_run(live):
    """Past CURVE_POINTS batch losses the curve keeps every other one, and from then on
    one in two: evenly spaced, never more than CURVE_POINTS, to the last step."""
    _, run, _, _ = live
    for step in range(3 * watch.CURVE_POINTS):
        run.on_batch(1, step + 1, 1.0 / (step + 1))
    steps = [step for step, _ in run.losses]
    assert len(steps) <= watch.CURVE_POINTS and run.every == 4       # halved twice
    assert set(np.diff(steps)) == {run.every} and steps[-1] > 3 * watch.CURVE_POINTS - run.every


def test_units_mistakes_and_bad_requests(live):
    """The first layer's units as pictures, the surest mistakes on validation images, and
    a 404 for what is not there; the server goes on."""
    address, run, train, _ = live
    status, units = request(address, "GET", "/units")
    assert status == 200 and len(units["units"]) == 32 and units["units"][0].startswith("data:image/png")
    status, found = request(address, "GET", "/mistakes")
    assert status == 200 and found["checked"] == 500 and len(found["mistakes"]) == watch.MISTAKES_SHOWN
    assert found["mistakes"][0]["sure"] >= found["mistakes"][-1]["sure"]
    assert request(address, "GET", "/secrets")[0] == 404
    assert request(address, "POST", "/explode")[0] == 404
    assert request(address, "GET", "/state")[0] == 200


def test_in_a_real_browser_the_curve_grows_the_units_sharpen_and_pause_holds(live, tmp_path):
    """Chromium on a one-epoch run (slowed to be seen): the loss curve grows between
    screenshots, the first layer's pictures change, and pause stops the step count."""
    address, run, train, _ = live
    slow = run.on_batch
    run.on_batch = lambda *args: (time.sleep(0.02), slow(*args))
    with chromium_page(1280, 1000) as page:
        page.goto(f"http://{address}/")
        thread = train(epochs=1, batch_size=4)
        page.wait_for_function("() => document.querySelectorAll('#units img').length == 32")
        first_units = page.eval_on_selector("#units img", "image => image.src")
        curve_before = page.locator("#losses").screenshot(path=str(tmp_path / "curve0.png"))
        time.sleep(3)
        curve_after = page.locator("#losses").screenshot(path=str(tmp_path / "curve1.png"))
        assert curve_before != curve_after
        page.wait_for_function(f"() => document.querySelector('#units img').src != {json.dumps(first_units)}")
        page.click("#pause")
        time.sleep(1)
        held = page.text_content("#stats")
        time.sleep(1.5)
        assert "paused" in held and page.text_content("#stats") == held
        page.click("#resume")
        page.screenshot(path=str(tmp_path / "watch.png"), full_page=True)
    thread.join(60)
