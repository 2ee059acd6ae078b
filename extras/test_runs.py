"""Tests of runs.py: the run log survives what a crash or an editor leaves in it, and
--compare shows what differs between runs, best first."""
import re

import numpy as np
import pytest

import nn
from extras import runs

SETTINGS = {key: None for key in runs.SETTINGS} | {"dataset": "mnist", "lr": 0.002,
                                                    "dropout": 0.3, "epochs": 2}


def logged(path, count, **changes):
    """Record count runs of a small network on blobs, each with the settings changed by
    changes' values in turn (lr=[0.01, 0.001] runs at those two rates)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(int)
    for k in range(count):
        settings = SETTINGS | {key: values[k] for key, values in changes.items()}
        params = nn.init_params([5, 8, 2], rng=k)
        history = nn.train(params, X[:200], labels[:200], epochs=settings["epochs"],
                           lr=settings["lr"], optimizer="adam", dropout=settings["dropout"],
                           rng=k, X_val=X[200:], targets_val=labels[200:])
        runs.record(path, f"python mnist.py --run {k}", settings, history, 0.9, 3.0)


def test_every_run_is_recorded_and_compare_shows_only_what_differs(tmp_path, capsys):
    """Three runs: the table has a column for each setting that differs (lr and dropout),
    none for those they share, the best validation accuracy first."""
    path = tmp_path / "runs.jsonl"
    logged(path, 3, lr=[0.01, 0.001, 0.001], dropout=[0.3, 0.3, 0.0])
    recorded = runs.read(path)
    assert [run["settings"]["lr"] for run in recorded] == [0.01, 0.001, 0.001]
    assert recorded[2]["command"] == "python mnist.py --run 2"
    assert len(recorded[0]["history"]) == 2 and "layers" not in recorded[0]["history"][0]
    capsys.readouterr()
    assert runs.compare(path, []) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["run", "lr", "dropout", "best", "val"] and len(rows) == 3
    assert "epochs" not in header
    best = [float(row.split()[3].rstrip("%")) for row in rows]
    assert best == sorted(best, reverse=True)
    runs.compare(path, [2, 3])
    assert "lr" not in capsys.readouterr().out.splitlines()[0]


def test_the_run_log_survives_a_cut_line_and_garbage(tmp_path, capsys):
    """A last line cut short by a crash, and a line of garbage, are skipped with a warning
    naming their line numbers; the runs around them still count."""
    path = tmp_path / "runs.jsonl"
    logged(path, 1)
    whole = path.read_text()
    path.write_text(whole + "not json at all\n" + whole + whole[:len(whole) // 2])
    capsys.readouterr()
    runs.compare(path, [])
    out, err = capsys.readouterr()
    assert [line[:3] for line in out.splitlines()[1:3]] == ["#1 ", "#2 "]
    assert "share every setting" in out
    assert "line 2 is not a recorded run" in err and "line 4 is not a recorded run" in err


def test_compare_says_what_is_missing(tmp_path):
    """No run log yet, or a run number it does not have: one line saying so."""
    path = tmp_path / "runs.jsonl"
    with pytest.raises(ValueError, match="no runs recorded"):
        runs.compare(path, [])
    logged(path, 1)
    with pytest.raises(ValueError, match="no run 2 .* numbered 1 to 1"):
        runs.compare(path, [2])


def test_compare_report_draws_each_runs_validation_curve(tmp_path, monkeypatch):
    """The comparison page: one curve per run, labelled by what differs; without run
    numbers, only the last COMPARED_CURVES runs."""
    path, page = tmp_path / "runs.jsonl", tmp_path / "runs.html"
    logged(path, 2, dropout=[0.0, 0.5])
    runs.compare(path, [], page)
    text = page.read_text()
    assert text.count("<polyline") == 4                 # accuracy and loss, two runs each
    assert "#1 dropout 0<" in text and "#2 dropout 0.5<" in text
    monkeypatch.setattr(runs, "COMPARED_CURVES", 1)
    runs.compare(path, [], page)
    assert page.read_text().count("<polyline") == 2


def test_the_comparison_page_fits_a_page_and_its_labels_fit_their_charts(tmp_path):
    """Runs that differ in five settings get long labels; each chart is as wide as the
    page's text (1,000 pixels at most) and wide enough for its longest label (about 7
    pixels a character at the legend's 11 pixels), and long commands may break."""
    path, page = tmp_path / "runs.jsonl", tmp_path / "runs.html"
    logged(path, 3, lr=[0.01, 0.003, 0.001], dropout=[0.0, 0.3, 0.5], optimizer=["adam"] * 3,
           momentum=[0.9, 0.5, 0.0], augment=["none", "shift", "affine"],
           batch_size=[32, 64, 128])
    runs.compare(path, [], page)
    text = page.read_text()
    for svg in re.findall(r"<svg[^>]*>.*?</svg>", text, flags=re.S):
        width = float(re.search(r'width="([\d.]+)"', svg).group(1))
        labels = re.findall(r'<text x="76[^>]*>([^<]*)</text>', svg)
        assert width <= 1000 and labels and max(map(len, labels)) * 7 + 80 <= width
    assert "word-break:break-all" in text
