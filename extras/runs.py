"""The run log and --compare. Improving a network is changing one thing at a time and
seeing what it did, so every training run of mnist.py is recorded as one line of JSON in a
runs file, and --compare lays the recorded runs side by side, as TensorBoard's runs or
MLflow's tables do: only the settings that differ, so the change stands out.
"""
import html
import json
import os
import time

import nn
from extras import log
from extras.report import svg_chart, write_page

SETTINGS = ["dataset", "hidden", "activation", "optimizer", "epochs", "batch_size", "lr",
            "schedule", "final_lr", "momentum", "dropout", "weight_decay", "augment",
            "shift", "rotate", "scale", "shear", "alpha", "sigma", "val_size", "seed",
            "keep_best", "patience"]
COMPARED_CURVES = 10           # --compare --report without run numbers draws the last ten
MAX_RUNS_FILE = 50_000_000     # bytes


def record(path, command, settings, history, test_accuracy, seconds, failure=None):
    """Append one line of JSON to the runs file: when, the command, the settings (those
    named in SETTINGS), the history without the layer details, the test accuracy, the
    doctor's findings and the time; for a run that diverged, failure (its error) is the
    first finding. The line goes out in one write to a file opened for appending, then to
    disk: a crash leaves the file as it was, or (at worst) a last line read() skips. A
    file that cannot be written costs a warning, never the run: it is a side file."""
    line = json.dumps({
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command,
        "settings": {key: settings[key] for key in SETTINGS},
        "history": [{key: value for key, value in epoch.items()
                     if key not in ("layers", "settings")} for epoch in history],
        "test_accuracy": test_accuracy, "seconds": round(seconds, 1),
        "findings": ([{"check": "diverged", "seen": failure}] if failure else []) +
                    [{"check": found["check"], "seen": found["seen"]}
                     for found in nn.diagnose(history)]})
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, (line + "\n").encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        return log(f"warning: could not record the run in {path} ({error})")
    log(f"recorded the run in {path} (see --compare)")


def read(path):
    """The runs in a runs file, numbered from 1 in the order they were recorded; a line
    that is not a whole run (cut short by a crash, or edited) is skipped with a warning
    that names its line number."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read(MAX_RUNS_FILE + 1)
    except FileNotFoundError:
        return []
    if len(lines) > MAX_RUNS_FILE:
        raise ValueError(f"{path} is over {MAX_RUNS_FILE // 1_000_000} MB: start a new one "
                         f"with --runs")
    runs = []
    for number, line in enumerate(lines.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)
            if not isinstance(run, dict) or not {"settings", "history", "test_accuracy",
                                                  "seconds", "findings"} <= set(run):
                raise ValueError("not a run")
        except ValueError:
            log(f"warning: {path} line {number} is not a recorded run; skipped")
            continue
        run["number"] = len(runs) + 1
        runs.append(run)
    return runs


def compare(path, numbers, report=None):
    """--compare [RUN ...]: the recorded runs (all, or those numbered) as a table, best
    validation accuracy first, with the settings that differ between them as columns;
    with report, a page of their validation curves (the last ten, or those named)."""
    runs = read(path)
    if not runs:
        raise ValueError(f"no runs recorded in {path} yet: each 'python mnist.py' training "
                         f"run adds one (see --runs)")
    if numbers:
        missing = [number for number in numbers if not 1 <= number <= len(runs)]
        if missing:
            raise ValueError(f"--compare: no run {missing[0]} in {path}; its runs are "
                             f"numbered 1 to {len(runs)}")
        runs = [runs[number - 1] for number in numbers]
    columns = differing_settings(runs)
    header = ["run", *columns, "best val", "test", "time", "the doctor's first finding"]
    table = [header] + [row(run, columns) for run in best_first(runs)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    if not columns and len(runs) > 1:
        print(f"(the {len(runs)} runs shown share every setting)")
    if report:
        shown = runs if numbers else runs[-COMPARED_CURVES:]
        write_comparison(report, shown, differing_settings(shown))
        log(f"wrote the comparison to {report}")
    return 0


def row(run, columns):
    """A run's cells in the comparison table: its number, the differing settings, its
    best validation and its test accuracy, time and the doctor's first finding."""
    return [f"#{run['number']}", *(setting_text(run["settings"].get(key)) for key in columns),
            percent(best_val_accuracy(run)), percent(run["test_accuracy"]),
            f"{run['seconds']:.0f} s", run["findings"][0]["check"] if run["findings"] else "-"]


def differing_settings(runs):
    """The settings whose values are not the same in every run, in SETTINGS order."""
    return [key for key in SETTINGS
            if len({json.dumps(run["settings"].get(key)) for run in runs}) > 1]


def best_first(runs):
    """The runs by their best validation accuracy, highest first (runs without last)."""
    return sorted(runs, key=lambda run: -(best_val_accuracy(run) or -1))


def best_val_accuracy(run):
    """The highest validation accuracy of a run's epochs, or None without validation."""
    accuracies = [record["val_accuracy"] for record in run["history"]
                  if record.get("val_accuracy") is not None]
    return max(accuracies) if accuracies else None


def setting_text(value):
    """A setting as a table cell: 640,640 for a list, 0.002 for a float."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


def percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.2f}%"


def run_label(run, columns):
    """What tells a run apart in a chart's legend: its number and differing settings."""
    changed = ", ".join(f"{key} {setting_text(run['settings'].get(key))}" for key in columns)
    return f"#{run['number']} {changed}".strip()


def write_comparison(path, runs, columns):
    """--compare --report: the runs' validation accuracy and loss curves, each labelled by
    the settings that tell it apart, and the table, in the report's style."""
    def curves(key, scale=1):
        return {run_label(run, columns): (
            [epoch["epoch"] for epoch in run["history"]],
            [None if epoch.get(key) is None else scale * epoch[key] for epoch in run["history"]])
            for run in runs}

    head = "".join(f"<th>{html.escape(name)}</th>" for name in
                   ["run", *columns, "best val", "test", "time", "doctor", "command"])
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row(run, columns))
                   + f"<td class='command'>{html.escape(run.get('command', ''))}</td></tr>"
                   for run in best_first(runs))
    body = [f"<h1>{len(runs)} run{'' if len(runs) == 1 else 's'} compared</h1>",
            svg_chart(curves("val_accuracy", 100), "Validation accuracy per epoch", "epoch",
                      "accuracy (%)", y_range=(100, 100), width=960, height=320),
            svg_chart(curves("val_loss"), "Validation loss per epoch", "epoch", "loss",
                      log_y=True, width=960, height=320),
            "<p>Each run is labelled by the settings that differ between the runs shown; the "
            "table has the rest.</p>",
            f"<table class='runs'><tr>{head}</tr>{rows}</table>"]
    write_page(path, "runs compared", body)
