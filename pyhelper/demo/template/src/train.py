"""Fits a one-hidden-layer neural network to data/prepared/train.csv with mini-batch SGD.

Reads `train.*` and `model.*` from params.yaml. Writes the model to model/model.json and one
row per epoch (training loss and accuracy) to train_log.tsv. The features are standardised with
the training set's mean and deviation, which the model file keeps so that evaluate.py applies
the same transform. Plain lists rather than numpy keep the stage runnable by any python3.

Each epoch's loss and accuracy also go through `pyhelper.live` (DVCLive's files under
dvclive/), followed by a checkpoint: under `xp exp run` each epoch becomes a commit on the
experiment's chain (`xp exp show` lists them; `xp exp apply NAME@EPOCH` brings one back).
"""

import json
import math
import os
import random

import params

try:
    from pyhelper.live import Live
except ImportError:  # A python without xp (e.g. DVC's own) runs the stage without live metrics.
    Live = None

# Floats are added with math.fsum, whose result is exact: since Python 3.12 sum() rounds
# differently, and plain sums would make the model file depend on the interpreter's version.

TRAIN_CSV = os.path.join("data", "prepared", "train.csv")
MODEL_JSON = os.path.join("model", "model.json")
LOG_TSV = "train_log.tsv"


def read_csv(path):
    """The feature names, the feature rows and the labels in `path`."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split(",")
        rows, labels = [], []
        for line in f:
            *features, label = line.rstrip("\n").split(",")
            rows.append([float(v) for v in features])
            labels.append(int(label))
    return header[:-1], rows, labels


def sigmoid(z):
    """The logistic function, split on the sign so that large |z| cannot overflow `math.exp`."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def standardise(rows):
    """Per-feature mean and standard deviation of `rows` (a constant feature gets deviation 1)."""
    columns = list(zip(*rows))
    mean = [math.fsum(col) / len(col) for col in columns]
    std = [math.sqrt(math.fsum((v - m) ** 2 for v in col) / len(col)) or 1.0 for col, m in zip(columns, mean)]
    return mean, std


def forward(net, x):
    """The hidden activations and the output probability of `net` for one standardised row."""
    hidden = [math.tanh(b + math.fsum(w * v for w, v in zip(ws, x))) for ws, b in zip(net["w1"], net["b1"])]
    return hidden, sigmoid(net["b2"] + math.fsum(w * h for w, h in zip(net["w2"], hidden)))


def init_net(n_in, n_hidden, rng):
    """Small random weights scaled by fan-in, so tanh units start in their linear range."""
    return {
        "w1": [[rng.gauss(0.0, 1.0 / math.sqrt(n_in)) for _ in range(n_in)] for _ in range(n_hidden)],
        "b1": [0.0] * n_hidden,
        "w2": [rng.gauss(0.0, 1.0 / math.sqrt(n_hidden)) for _ in range(n_hidden)],
        "b2": 0.0,
    }


def sgd_step(net, xs, labels, chunk, lr, l2):
    """One gradient step on the rows in `chunk` of cross-entropy plus an L2 penalty on the weights."""
    w1, w2 = net["w1"], net["w2"]
    g1 = [[0.0] * len(ws) for ws in w1]
    gb1 = [0.0] * len(w1)
    g2 = [0.0] * len(w2)
    gb2 = 0.0
    for i in chunk:
        x = xs[i]
        hidden, p = forward(net, x)
        d_out = p - labels[i]
        gb2 += d_out
        for j, h in enumerate(hidden):
            g2[j] += d_out * h
            d_hidden = d_out * w2[j] * (1.0 - h * h)
            gb1[j] += d_hidden
            row = g1[j]
            for k, v in enumerate(x):
                row[k] += d_hidden * v
    scale = lr / len(chunk)
    net["w1"] = [[w - scale * g - lr * l2 * w for w, g in zip(ws, gs)] for ws, gs in zip(w1, g1)]
    net["b1"] = [b - scale * g for b, g in zip(net["b1"], gb1)]
    net["w2"] = [w - scale * g - lr * l2 * w for w, g in zip(w2, g2)]
    net["b2"] -= scale * gb2


def score(net, xs, labels):
    """Mean cross-entropy and accuracy of `net` on the rows `xs`."""
    loss = correct = 0
    for x, y in zip(xs, labels):
        p = min(max(forward(net, x)[1], 1e-12), 1.0 - 1e-12)
        loss -= math.log(p) if y == 1 else math.log(1.0 - p)
        correct += (p >= 0.5) == (y == 1)
    return loss / len(xs), correct / len(xs)


def main():
    """Trains the network and writes model/model.json and train_log.tsv."""
    all_params = params.load()
    p, hidden = all_params["train"], all_params["model"]["hidden"]
    if p["epochs"] < 1 or p["batch_size"] < 1 or hidden < 1:
        raise SystemExit("train.epochs, train.batch_size and model.hidden must each be at least 1")
    names, rows, labels = read_csv(TRAIN_CSV)
    mean, std = standardise(rows)
    xs = [[(v - m) / s for v, m, s in zip(row, mean, std)] for row in rows]
    # One generator, seeded once, draws the initial weights and then every epoch's order.
    rng = random.Random(p["seed"])
    net = init_net(len(names), hidden, rng)
    order = list(range(len(xs)))
    log = ["epoch\tloss\taccuracy"]
    live = Live() if Live is not None else None
    for epoch in range(1, p["epochs"] + 1):
        rng.shuffle(order)
        for start in range(0, len(order), p["batch_size"]):
            sgd_step(net, xs, labels, order[start:start + p["batch_size"]], p["lr"], p["l2"])
        loss, accuracy = score(net, xs, labels)
        log.append(f"{epoch}\t{loss:.4f}\t{accuracy:.4f}")
        if live is not None:
            live.step = epoch
            live.log_metric("train/loss", round(loss, 4))
            live.log_metric("train/accuracy", round(accuracy, 4))
            live.make_checkpoint()
    if live is not None:
        live.end()
    # The output folder may have been deleted along with the previous model before this run.
    os.makedirs(os.path.dirname(MODEL_JSON), exist_ok=True)
    with open(MODEL_JSON, "w", encoding="utf-8", newline="\n") as f:
        json.dump({"features": names, "mean": mean, "std": std, **net}, f, indent=2)
        f.write("\n")
    with open(LOG_TSV, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(log) + "\n")
    print(f"trained {p['epochs']} epochs; on the training set: loss {loss:.4f}, accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
