"""Scores model/model.json on data/prepared/test.csv and writes metrics.json.

The metrics are accuracy, mean log loss, and precision and recall of class 1, each rounded to
four places so that `metrics diff` shows changes that matter rather than float noise.
"""

import json
import math
import os

TEST_CSV = os.path.join("data", "prepared", "test.csv")
MODEL_JSON = os.path.join("model", "model.json")
METRICS_JSON = "metrics.json"


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
    print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    main()
