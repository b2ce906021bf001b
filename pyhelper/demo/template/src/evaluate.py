"""Scores model/model.json on data/prepared/test.csv: metrics.json, the predictions and a picture.

The metrics are accuracy, mean log loss, and precision and recall of class 1, each rounded to
four places so that `metrics diff` shows changes that matter rather than float noise. Every test
point's actual and predicted class go to eval/predictions.csv (a confusion matrix in `xp plots`),
and eval/test_points.svg draws the points coloured by prediction, mistakes ringed (an image plot).
"""

import json
import math
import os

TEST_CSV = os.path.join("data", "prepared", "test.csv")
MODEL_JSON = os.path.join("model", "model.json")
METRICS_JSON = "metrics.json"
PREDICTIONS_CSV = os.path.join("eval", "predictions.csv")
PICTURE_SVG = os.path.join("eval", "test_points.svg")


def read_csv(path):
    """The feature rows and the labels in `path`."""
    with open(path, encoding="utf-8") as f:
        f.readline()
        rows, labels = [], []
        for line in f:
            *features, label = line.rstrip("\n").split(",")
            rows.append([float(v) for v in features])
            labels.append(int(label))
    return rows, labels


def predict(model, row):
    """The model's probability that the raw feature `row` is of class 1."""
    x = [(v - m) / s for v, m, s in zip(row, model["mean"], model["std"])]
    # math.fsum is exact, so the result is the same on every Python version (train.py says more).
    hidden = [math.tanh(b + math.fsum(w * v for w, v in zip(ws, x))) for ws, b in zip(model["w1"], model["b1"])]
    z = model["b2"] + math.fsum(w * h for w, h in zip(model["w2"], hidden))
    # Split on the sign so that large |z| cannot overflow `math.exp`.
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def main():
    """Writes metrics.json."""
    with open(MODEL_JSON, encoding="utf-8") as f:
        model = json.load(f)
    rows, labels = read_csv(TEST_CSV)
    probs = [predict(model, row) for row in rows]
    predicted = [int(p >= 0.5) for p in probs]
    true_pos = sum(1 for p, y in zip(predicted, labels) if p == 1 and y == 1)
    clipped = [min(max(p, 1e-12), 1.0 - 1e-12) for p in probs]
    metrics = {
        "accuracy": sum(p == y for p, y in zip(predicted, labels)) / len(labels),
        "loss": -math.fsum(math.log(p) if y else math.log(1.0 - p) for p, y in zip(clipped, labels)) / len(labels),
        "precision": true_pos / max(sum(predicted), 1),
        "recall": true_pos / max(sum(labels), 1),
    }
    with open(METRICS_JSON, "w", encoding="utf-8", newline="\n") as f:
        json.dump({k: round(v, 4) for k, v in metrics.items()}, f, indent=2)
        f.write("\n")
    os.makedirs("eval", exist_ok=True)
    with open(PREDICTIONS_CSV, "w", encoding="utf-8", newline="\n") as f:
        f.write("actual,predicted\n")
        f.writelines(f"{y},{p}\n" for y, p in zip(labels, predicted))
    with open(PICTURE_SVG, "w", encoding="utf-8", newline="\n") as f:
        f.write(picture(rows, labels, predicted))
    print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


def picture(rows, labels, predicted, size=240):
    """An SVG of the test points' first two features, filled by predicted class, mistakes ringed in red."""
    xs, ys = [r[0] for r in rows], [r[1] for r in rows]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def at(v, lo, hi):
        return round(8 + (v - lo) / ((hi - lo) or 1.0) * (size - 16), 1)

    dots = []
    for x, y, actual, guess in zip(xs, ys, labels, predicted):
        ring = "" if actual == guess else ' stroke="#e6194b" stroke-width="1.5"'
        fill = "#4363d8" if guess else "#f58231"
        dots.append(f'<circle cx="{at(x, x0, x1)}" cy="{at(y1 - y + y0, y0, y1)}" r="3" fill="{fill}"{ring}/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}">'
            f'<rect width="{size}" height="{size}" fill="white"/>{"".join(dots)}</svg>\n')


if __name__ == "__main__":
    main()
