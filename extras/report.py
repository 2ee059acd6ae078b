"""The page of a run (--report): one HTML file that opens offline in any browser, charts as
inline SVG, pictures as PNG files embedded as data: URIs, no script, everything in it
escaped text. svg_chart() and write_page() also make the comparison page (runs.py).
"""
import html
import math

import numpy as np

import nn
from extras.images import png_uri


def run_facts(settings, sizes, activation, n_train, n_test, history, stopped, test_accuracy):
    """The facts at the top of a report page: the data, the network, how it was trained,
    how well it did. settings: the command line's, or a saved model's info."""
    kept = history[-1].get("kept_epoch") if history else None
    facts = [("dataset", f"{settings['dataset']}: {n_train:,} training, "
                         f"{settings['val_size']:,} validation, {n_test:,} test images"),
             ("network", f"{'-'.join(map(str, sizes))}, {activation}"),
             ("training", f"{settings['optimizer']}, lr {settings['lr']:g} "
                          f"({settings['schedule']}), batch {settings['batch_size']}, dropout "
                          f"{settings['dropout']}, augment {settings['augment']}, seed "
                          f"{settings['seed']}"),
             ("epochs", f"{len(history)} of {settings['epochs']}"
                        + (" (stopped early)" if stopped else "")
                        + (f", the network of epoch {kept} kept" if kept else "")),
             ("test accuracy", f"{100 * test_accuracy:.2f}%")]
    if history and history[-1]["val_accuracy"] is not None:
        shown = history[(kept or len(history)) - 1]["val_accuracy"]
        facts.append(("validation accuracy", f"{100 * shown:.2f}%"))
    return facts


def write_report(path, title, facts, history, params, probs, labels, images, classes,
                 samples=None, say=lambda remedy: remedy["say"]):
    """Write the report page to path (atomically). facts: (name, value) pairs shown at
    the top; history: train()'s (empty for a loaded model); samples: augmented versions
    of one training digit, or None; say(remedy): the doctor's remedies in the words of
    whoever made the page (mnist.py's flags), nn.py's argument names if not given."""
    predictions = probs.argmax(axis=1)
    counts = nn.confusion_matrix(labels, predictions, len(classes))
    body = [f"<h1>{html.escape(title)}</h1>",
            "<table class='facts'>" + "".join(f"<tr><th>{html.escape(str(name))}</th><td>"
                                                f"{html.escape(str(value))}</td></tr>"
                                                for name, value in facts) + "</table>"]
    if history:
        body += history_charts(history, say)
    else:
        body.append("<p>No training history to draw: a saved model, or a run stopped "
                    "during its first epoch.</p>")
    body.append("<h2>Confusion matrix (test set)</h2>" + confusion_table(counts, classes))
    body.append("<h2>What the first layer looks for</h2>"
                f"<img class='pixels' alt='first-layer weights' src='{weight_tiles(params['W1'])}'>"
                "<p>Each square is one hidden unit's 784 weights, laid out as the image they "
                "read: red where ink excites the unit, blue where ink silences it. Smooth "
                "strokes and blobs are learned features; salt-and-pepper noise means the unit "
                "has not learned much yet (or is not used).</p>")
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probs[wrong, predictions[wrong]])][:24]
    body.append(f"<h2>The {len(wrong)} mistakes it was surest of</h2><div class='row'>")
    for i in wrong:
        body.append(f"<figure><img class='pixels' alt='test image {i}' src='{png_uri(images[i], 3)}'>"
                    f"<figcaption>#{i}: true {html.escape(classes[labels[i]])}<br>said "
                    f"{html.escape(classes[predictions[i]])} "
                    f"({100 * probs[i, predictions[i]]:.1f}%)</figcaption></figure>")
    body.append("</div>")
    if samples is not None:
        body.append("<h2>One training image, as augmentation shows it</h2><div class='row'>" +
                    "".join(f"<img class='pixels' alt='augmented sample' src='{png_uri(s, 3)}'>"
                            for s in samples) + "</div><p>Each epoch the network sees every "
                    "training image moved (and turned or bent) a new way, so it cannot learn "
                    "pixel positions by heart: it has to learn the strokes.</p>")
    write_page(path, title, body)


def history_charts(history, say):
    """The learning curves, each layer's health and the doctor's findings, as page parts."""
    epochs = [record["epoch"] for record in history]
    losses = {"training loss": (epochs, [r["loss"] for r in history])}
    accuracies = {"training": (epochs, [100 * r["train_accuracy"] for r in history])}
    caption = ("Training figures are averaged over each epoch as it was trained, with "
               "dropout and augmentation on")
    if history[0]["val_loss"] is not None:          # none with --val-size 0
        losses["validation loss"] = (epochs, [r["val_loss"] for r in history])
        accuracies["validation"] = (epochs, [100 * r["val_accuracy"] for r in history])
        caption += ("; validation is measured at the epoch's end on held-out images, as "
                    "the network really is")
    layers = range(len(history[0]["layers"]))
    findings = nn.diagnose(history)
    return [
        "<h2>Learning curves</h2><div class='row'>",
        svg_chart(losses, "Loss per epoch", "epoch", "cross-entropy", log_y=True),
        svg_chart(accuracies, "Accuracy per epoch", "epoch", "accuracy (%)", y_range=(100, 100)),
        f"</div><p>{caption}.</p>",
        "<h2>How each layer learned (the training doctor)</h2><div class='row'>",
        svg_chart({f"layer {i + 1}": (epochs, [r["layers"][i]["update_ratio"] for r in history])
                   for i in layers}, "Update / weight, per step", "epoch", "ratio", log_y=True),
        svg_chart({f"layer {i + 1}": (epochs, [100 * (r["layers"][i]["dead"] or 0)
                                               for r in history])
                   for i in layers if history[0]["layers"][i]["dead"] is not None},
                  "Dead units (never fired)", "epoch", "% of the layer", y_range=(0, 10)),
        "</div><p>A healthy update ratio is about 1e-3 (CS231n); with a decaying schedule it "
        "falls as the learning rate does.</p>",
        "<ul>" + "".join(f"<li><b>{html.escape(f['check'])}</b>: {html.escape(f['seen'])}. "
                         f"Likely cause: {html.escape(f['cause'])}. Try: " + html.escape(
                             "; or ".join(say(remedy) for remedy in f["remedies"])) + ".</li>"
                         for f in findings) + "</ul>"
        if findings else "<p>Nothing looks wrong by the doctor's rules of thumb.</p>"]


def write_page(path, title, body):
    """An HTML page of the body's parts, in the report's style, written atomically."""
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
            ".row{display:flex;flex-wrap:wrap;gap:12px}"
            "table{border-collapse:collapse}td,th{padding:3px 7px;text-align:right}"
            ".confusion td{border:1px solid #ccc;min-width:2.5em}"
            ".facts th,.facts td{text-align:left}"
            "img.pixels{image-rendering:pixelated}"
            "figure{margin:0;font-size:12px;text-align:center}"
            ".runs td,.runs th{border-bottom:1px solid #ddd}"
            ".runs{width:100%}.runs td.command{text-align:left;font-family:monospace;"
            "font-size:11px;word-break:break-all}"
            ".runs th:last-child{text-align:left}"
            "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    nn.write_atomically(path, lambda file: file.write(page.encode("utf-8")))


def svg_chart(series, title, x_label, y_label, log_y=False, y_range=None, width=460,
              height=260):
    """A line chart as an SVG string: series is {name: (xs, ys)}, drawn in distinct
    colours, axes with round-numbered ticks, the labels given, and the legend below the
    plot, where it hides no curve. y_range = (low, high) fixes the axis (accuracy in %:
    (low, 100)); a high that is a bound of its own, like (0, 10) for a share that is
    mostly near 0, grows to fit larger values."""
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    left, right, top, bottom = 60, 10, 28, 42
    points = [(x, y) for xs, ys in series.values() for x, y in zip(xs, ys)
              if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
    if not points:
        return ""
    value = (lambda y: math.log10(y)) if log_y else (lambda y: y)
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    y_low, y_high = min(value(p[1]) for p in points), max(value(p[1]) for p in points)
    if log_y:
        y_low, y_high = math.floor(y_low), math.ceil(y_high + 1e-9)
    elif y_range is not None:
        y_low, y_high = min(y_range[0], y_low), max(y_range[1], y_high)
    else:
        margin = (y_high - y_low) * 0.05 or 0.5
        y_low, y_high = y_low - margin, y_high + margin
    x_high = x_high if x_high > x_low else x_low + 1
    plot_height = height - top - bottom
    height += 15 * len(series) + 8                             # a legend row per series

    def px(x):
        return left + (x - x_low) / (x_high - x_low) * (width - left - right)

    def py(y):
        return top + (y_high - value(y)) / (y_high - y_low) * plot_height

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" '
             f'font-weight="bold">{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" '
             f'height="{plot_height}" fill="none" stroke="#888"/>']
    y_ticks = [10 ** k for k in range(int(y_low), int(y_high) + 1)] if log_y else \
        nice_ticks(y_low, y_high)
    for tick in y_ticks:
        parts.append(f'<line x1="{left - 4}" x2="{width - right}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#ddd"/><text x="{left - 6}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    x_ticks = [t for t in nice_ticks(x_low, x_high, 6) if t == int(t)]
    axis = top + plot_height
    for tick in x_ticks:
        parts.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{axis}" '
                     f'y2="{axis + 4}" stroke="#888"/><text x="{px(tick):.1f}" '
                     f'y="{axis + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{axis + 36}" '
                 f'text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + plot_height / 2}) rotate(-90)" '
                 f'text-anchor="middle">{html.escape(y_label)}</text>')
    for k, (name, (xs, ys)) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        shown = [(px(x), py(y)) for x, y in zip(xs, ys)
                 if y is not None and math.isfinite(y) and (y > 0 or not log_y)]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in shown)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(xs) < 40:
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>'
                      for x, y in shown]
        legend = axis + bottom + 12 + 15 * k
        parts.append(f'<rect x="{left}" y="{legend - 4}" width="12" height="3" '
                     f'fill="{colour}"/><text x="{left + 16}" y="{legend}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def nice_ticks(low, high, count=5):
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) from low to high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if raw <= m * step)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]


def weight_tiles(W1, n_units=64, columns=8, zoom=3):
    """The first layer's weights of n_units hidden units, each as a 28 x 28 picture in a
    grid (see weight_pictures)."""
    rgb = weight_pictures(W1, range(min(n_units, W1.shape[1])))
    rows = math.ceil(len(rgb) / columns)
    grid = np.ones((rows * 29 + 1, columns * 29 + 1, 3)) * 0.6     # grey lines between tiles
    for k, tile in enumerate(rgb):
        y, x = divmod(k, columns)
        grid[1 + 29 * y:29 * (y + 1), 1 + 29 * x:29 * (x + 1)] = tile
    return png_uri(grid, zoom)


def weight_pictures(W1, units):
    """The first-layer weights of the given units as 28 x 28 RGB pictures (K, 28, 28, 3):
    red where the unit is excited by ink, blue where ink holds it back, white for 0.
    Each is scaled by its own largest |weight|, so weak units still show."""
    weights = W1[:, list(units)].T.reshape(-1, 28, 28)
    weights = weights / np.abs(weights).max(axis=(1, 2), keepdims=True).clip(1e-12)
    positive, negative = np.clip(weights, 0, 1), np.clip(-weights, 0, 1)
    return np.stack([1 - negative, 1 - positive - negative, 1 - positive], axis=-1)


def confusion_table(counts, classes):
    """The confusion matrix as an HTML table: counts shaded by their share of the true
    class's row (deep blue on the diagonal when right, red off it), with recall per row
    and precision per column."""
    precision, recall = nn.precision_recall(counts)
    share = counts / counts.sum(axis=1, keepdims=True).clip(1)
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in range(len(classes)))
    lines = [f'<table class="confusion"><tr><th>true \\ predicted</th>{head}<th>recall</th></tr>']
    for t, row in enumerate(counts):
        cells = []
        for p, count in enumerate(row):
            strength = share[t, p] if t == p else min(1.0, 20 * share[t, p])
            colour = (f"rgba(31,119,180,{strength:.2f})" if t == p
                      else f"rgba(214,39,40,{strength:.2f})")
            ink = ";color:white" if strength > 0.55 else ""          # readable on deep blue
            cells.append(f'<td style="background:{colour}{ink}">{count}</td>')
        name = str(t) if classes[t] == str(t) else f"{t} {classes[t]}"
        lines.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}"
                     f"<td>{100 * recall[t]:.1f}%</td></tr>")
    lines.append("<tr><th>precision</th>" + "".join(f"<td>{100 * p:.1f}%</td>" for p in precision)
                 + "<td></td></tr></table>")
    return "\n".join(lines)
