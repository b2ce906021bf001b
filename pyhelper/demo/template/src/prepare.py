"""Draws a synthetic two-class data set from `prepare.*` in params.yaml and splits it.

The points are two interleaved half-moons with Gaussian noise, plus two features of pure noise
that a good model learns to ignore. Everything comes from one seeded generator, so the same
params always give byte-identical files.
"""

import math
import os
import random

import params

OUT_DIR = os.path.join("data", "prepared")
# The data dictionary: tracked outside git by data/raw/features.csv.dvc (`xp add`, as `dvc add`),
# so a fresh clone gets it from the cache or remote storage.
FEATURES_FILE = os.path.join("data", "raw", "features.csv")


def feature_names():
    """The feature names, the first column of the data dictionary."""
    with open(FEATURES_FILE, encoding="utf-8") as f:
        return [line.split(",")[0] for line in f.read().splitlines()[1:] if line]


def make_points(seed, n_samples, noise):
    """`n_samples` rows of features followed by a 0/1 label, half of each class, shuffled."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_samples):
        label = i % 2
        angle = rng.uniform(0.0, math.pi)
        if label == 0:
            x, y = math.cos(angle), math.sin(angle)
        else:
            x, y = 1.0 - math.cos(angle), 0.5 - math.sin(angle)
        rows.append([
            x + rng.gauss(0.0, noise),
            y + rng.gauss(0.0, noise),
            rng.gauss(0.0, 1.0),
            rng.gauss(0.0, 1.0),
            label,
        ])
    rng.shuffle(rows)
    return rows


def write_csv(path, rows):
    """Writes `rows` under a header; floats get a fixed number of digits so files compare byte for byte."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(feature_names() + ["label"]) + "\n")
        for row in rows:
            f.write(",".join(f"{v:.6f}" for v in row[:-1]) + f",{row[-1]}\n")


def main():
    """Writes data/prepared/train.csv and data/prepared/test.csv."""
    p = params.load()["prepare"]
    rows = make_points(p["seed"], p["n_samples"], p["noise"])
    n_test = round(len(rows) * p["test_size"])
    if not 0 < n_test < len(rows):
        raise SystemExit(f"prepare.test_size={p['test_size']} leaves no train or no test rows")
    # DVC and xp delete a stage's outputs before running it, so the folder may not exist.
    os.makedirs(OUT_DIR, exist_ok=True)
    write_csv(os.path.join(OUT_DIR, "test.csv"), rows[:n_test])
    write_csv(os.path.join(OUT_DIR, "train.csv"), rows[n_test:])
    print(f"prepared {len(rows) - n_test} train and {n_test} test rows in {OUT_DIR}")


if __name__ == "__main__":
    main()
