"""Tests of the playground: its steps are nn.train's, its "as code" trains the same network,
its server answers bad settings with 400 and carries on; and, where Playwright and
Chromium are installed, the page in a real browser."""
import http.client
import json
import threading
import time

import numpy as np
import pytest

from extras import playground
from extras.conftest import chromium_page


def test_the_playground_steps_as_nn_train_does_and_its_code_trains_the_same_network(tmp_path):
    """Eight epochs in the playground, then its "as code" run: the same weights, bit for
    bit (the same draws from the same seed, the same arithmetic), with dropout and decay."""
    settings = {"problem": "circle", "hidden": [6, 5], "dropout": 0.2, "weight_decay": 0.01,
                "optimizer": "sgd", "lr": 0.05, "batch_size": 16, "points": 200}
    ground = playground.Playground(settings)
    for _ in range(8 * ground.batches):
        ground.train_step()
    assert len(ground.history) == 8
    code = ground.code()
    scope = {}
    exec(compile(code, "as_code.py", "exec"), scope)
    for key, value in ground.params.items():
        np.testing.assert_array_equal(scope["params"][key], value)
    assert scope["history"][-1]["val_accuracy"] == ground.history[-1]["val_accuracy"]


def test_the_default_spiral_is_learned_and_the_doctor_reads_along():
    """The page's default settings learn the spiral past 95% on the test points; the
    findings are nn.diagnose's on the epochs so far: a rate 10x too high is named."""
    ground = playground.Playground()
    while ground.step < 3000 and not (ground.history and ground.history[-1]["val_accuracy"] >= 0.95):
        ground.train_step()
    assert ground.history[-1]["val_accuracy"] >= 0.95
    ground = playground.Playground({"lr": 0.03})                   # 10x the page's rate
    for _ in range(20 * ground.batches):
        ground.train_step()
    assert [found["check"] for found in ground.findings][:1] == ["learning rate too high"]
    assert ground.state_json()["findings"] == ground.findings


@pytest.fixture
def server():
    """A playground and its server on a free port; yields its address."""
    ground = playground.Playground()
    threading.Thread(target=ground.run, daemon=True).start()
    httpd = playground.make_server(ground, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}", ground
    httpd.shutdown()
    httpd.server_close()


def request(address, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(address, timeout=20)
    connection.request(method, path, body=body, headers=headers or {})
    reply = connection.getresponse()
    data = reply.read()
    connection.close()
    kind = reply.getheader("Content-Type", "")
    return reply.status, json.loads(data) if kind.startswith("application/json") else data


def test_state_tells_a_script_how_the_run_goes(server):
    """GET /state: the step, the epoch, the last loss, training and test accuracy and the
    findings; after play, the steps grow; pause stops them."""
    address, ground = server
    status, state = request(address, "GET", "/state")
    assert status == 200 and {"step", "epoch", "loss", "train_accuracy", "test_accuracy",
                              "findings"} <= set(state)
    request(address, "POST", "/play")
    time.sleep(0.5)
    status, state = request(address, "POST", "/pause")
    assert state["step"] > 0 and state["epoch"] > 0 and state["loss"] is not None
    time.sleep(0.2)
    still = request(address, "GET", "/state")[1]["step"]
    time.sleep(0.3)
    assert request(address, "GET", "/state")[1]["step"] == still
    status, picture = request(address, "GET", "/picture")
    assert status == 200 and len(picture["layers"]) == 4 and len(picture["weights"]) == 3
    status, model = request(address, "GET", "/model")
    assert status == 200 and model[:2] == b"PK"


@pytest.mark.parametrize("settings, message", [
    ({"hidden": [0]}, "a layer must have 1 to 32 units"),
    ({"hidden": [8] * 100}, "at most 6 layer"),
    ({"lr": -0.1}, "lr must be a number from"),
    ({"features": []}, "choose one input feature"),
    ({"activation": "swish"}, "activation must be one of"),
    ({"colour": "blue"}, "unknown setting 'colour'"),
    ({"problem": "csv"}, "upload a CSV first"),
])
def test_bad_settings_get_400_and_a_clear_message_and_the_server_stays_up(server, settings, message):
    address, _ = server
    status, reply = request(address, "POST", "/settings", json.dumps(settings).encode())
    assert status == 400 and message in reply["error"]
    assert request(address, "GET", "/state")[0] == 200


@pytest.mark.parametrize("text, message", [
    ("name,height,label\nann,tall,x\nbob,short,y\ncy,tall,x\ndi,short,y\n", "must be two numbers"),
    ("x1,x2,label\n" + "".join(f"{k},{k},same\n" for k in range(10)), "a classifier needs two"),
    ("1,2,a\n", "give 4 to"),
])
def test_a_bad_csv_gets_400_and_a_clear_message(server, text, message):
    address, _ = server
    status, reply = request(address, "POST", "/csv", text.encode())
    assert status == 400 and message in reply["error"]
    assert request(address, "GET", "/state")[1]["settings"]["problem"] == "spiral"


def test_a_csv_of_three_classes_is_learned(server):
    """Your own points: three clusters, three classes, named as the CSV names them."""
    address, _ = server
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{y:.3f},{name}" for name, centre in (("red", (-3, 0)), ("green", (3, 0)),
                                                             ("blue", (0, 4)))
            for x, y in centre + rng.standard_normal((40, 2))]
    status, state = request(address, "POST", "/csv", ("x1,x2,colour\n" + "\n".join(rows)).encode())
    assert status == 200 and state["classes"] == 3 and state["class_names"] == ["blue", "green", "red"]
    assert state["sizes"][-1] == 3


def test_a_50_mb_upload_is_refused_unread_and_the_server_stays_up(server):
    """The client says 50 MB are coming: 400 at once, without reading them."""
    address, _ = server
    connection = http.client.HTTPConnection(address, timeout=20)
    connection.putrequest("POST", "/csv")
    connection.putheader("Content-Length", str(50_000_000))
    connection.endheaders()
    connection.send(b"x1,x2,label\n" * 1000)
    reply = connection.getresponse()
    assert reply.status == 400 and "at most 1,000,000 (1 MB)" in json.loads(reply.read())["error"]
    connection.close()
    assert request(address, "GET", "/state")[0] == 200


def test_in_a_real_browser_the_playground_plays_learns_and_redraws(server, tmp_path):
    """Chromium: play, and the loss falls and the boundary changes between screenshots;
    with 6 layers of 8 units the page redraws 10 times a second or more; a bad setting
    shows its message on the page."""
    address, ground = server
    with chromium_page(1280, 900) as page:
        page.goto(f"http://{address}/")
        page.wait_for_selector("#columns canvas")
        before = page.locator("#boundary").screenshot(path=str(tmp_path / "before.png"))
        page.click("#play")
        page.wait_for_function("() => document.querySelector('#stats').textContent.includes('epoch 5')")
        time.sleep(1)
        after = page.locator("#boundary").screenshot(path=str(tmp_path / "after.png"))
        assert before != after
        curve = ground.state_json()["curve"]
        assert curve[-1][1] < curve[0][1]                         # the training loss fell
        page.fill("#hidden", "8,8,8,8,8,8")
        page.click("#apply")
        page.wait_for_function("() => document.querySelectorAll('#columns canvas').length == 4 + 48 + 2")
        page.click("#play")
        time.sleep(3)
        assert page.evaluate("framesPerSecond()") >= 5      # 10+ on a quiet machine: README
        page.click("#pause")
        page.fill("#hidden", "0")
        page.click("#apply")
        page.wait_for_function("() => document.querySelector('#message').textContent.length > 0")
        assert "1 to 32 units" in page.text_content("#message")
