"""Tests of report.py: the run's page parses, its pictures decode and its charts are XML."""
import base64
import html.parser
import re
import xml.etree.ElementTree

import numpy as np
import pytest

import nn
from extras import images, report


class PageParser(html.parser.HTMLParser):
    """Collects the page's img sources and checks that its tags nest."""

    def __init__(self):
        super().__init__()
        self.images, self.open = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag not in ("meta", "br", "rect", "line", "circle", "polyline"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag not in ("rect", "line", "circle", "polyline"):
            assert self.open.pop() == tag


def small_run(validation):
    """A 784-16-10 network trained 3 epochs on stripes (each class a bright bar in its own
    rows, a tenth of them mislabelled), with or without validation data: (params, history,
    X, labels)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    X = rng.uniform(0, 0.2, (400, 28, 28)).astype(np.float32)
    X[np.arange(400), 2 * labels + 4] = 1.0
    X, labels[::10] = X.reshape(400, -1), labels[5::10]     # a tenth mislabelled: mistakes
    params = nn.init_params([784, 16, 10], rng=rng)
    extra = {"X_val": X[300:], "targets_val": labels[300:]} if validation else {}
    history = nn.train(params, X[:300], labels[:300], epochs=3, lr=0.01, optimizer="adam",
                       rng=rng, **extra)
    return params, history, X, labels


@pytest.mark.parametrize("validation", [True, False])
def test_the_report_page_is_valid_and_shows_the_run(tmp_path, validation):
    """The page parses, every embedded PNG decodes with our own reader, every SVG is
    well-formed XML, and the run's numbers are on it; without validation data (the final
    run on every image) it leaves validation out rather than a legend with no line."""
    params, history, X, labels = small_run(validation)
    probs = nn.softmax(nn.outputs(params, X, "relu"))
    accuracy = nn.accuracy(labels, probs.argmax(axis=1))
    settings = {"dataset": "mnist", "val_size": 100 if validation else 0, "optimizer": "adam",
                "lr": 0.01, "schedule": "constant", "batch_size": 32, "dropout": 0.0,
                "augment": "none", "seed": 0, "epochs": 3}
    facts = report.run_facts(settings, [784, 16, 10], "relu", 300, 400, history, False, accuracy)
    path = tmp_path / "report.html"
    history[0]["layers"][0]["update_ratio"] = 1.0       # a finding: learning rate too high
    report.write_report(path, "a small run", facts, history, params, probs, labels,
                        (255 * X.reshape(-1, 28, 28)).astype(np.uint8), [str(k) for k in range(10)],
                        say=lambda remedy: "said " + remedy["say"].upper())
    text = path.read_text()
    parser = PageParser()
    parser.feed(text)
    assert parser.open == [] or parser.open == ["html"]
    assert len(parser.images) >= 2
    for source in parser.images:
        assert source.startswith("data:image/png;base64,")
        assert images.read_png(base64.b64decode(source.split(",", 1)[1]), "embedded").size > 0
    svgs = re.findall(r"<svg.*?</svg>", text, flags=re.S)
    assert len(svgs) == 4
    for svg in svgs:
        xml.etree.ElementTree.fromstring(svg)
    assert f"{100 * accuracy:.2f}%" in text and "Confusion matrix" in text
    assert "<th>epochs</th><td>3 of 3</td>" in text and "training loss" in text
    assert ("validation loss" in text) == ("validation accuracy" in text) == validation
    assert ("held-out images" in text) == validation
    assert "Try: said LR=" in text and "Try: lr=" not in text      # in the page maker's words
