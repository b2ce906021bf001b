"""Realistic DVC project shapes, written by the tests (learned from public DVC repositories):
pipelines in subfolders, `dvc init --subdir` monorepos, `.dvc`-tracked data, mappings in `cmd`,
callback stages, DVC 2.x locks, large `foreach` stages. Each builder writes files into a folder
and returns nothing; the caller initialises git (and DVC where it needs it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import write_files

TRAIN_PY = """
import sys
from pathlib import Path
args = sys.argv[1:]
Path("model.bin").write_text(" ".join(args))
Path("metrics.json").write_text('{"acc": 0.5}')
"""


def dvc_file(path: Path, rel: str) -> str:
    """What `dvc add` writes for a file (DVC 3)."""
    data = path.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: {rel}\n"


def dvc_dir_file(folder: Path, rel: str) -> tuple[str, str, bytes]:
    """What `dvc add` writes for a folder, with the `.dir` manifest's md5 and bytes."""
    entries = []
    size = 0
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        size += len(data)
        entries.append({"md5": hashlib.md5(data).hexdigest(), "relpath": file.relative_to(folder).as_posix()})
    manifest = json.dumps(sorted(entries, key=lambda e: e["relpath"]), sort_keys=True).encode()
    md5 = hashlib.md5(manifest).hexdigest() + ".dir"
    text = f"outs:\n- md5: {md5}\n  size: {size}\n  nfiles: {len(entries)}\n  hash: md5\n  path: {rel}\n"
    return text, md5, manifest


def subfolder_pipelines(root: Path) -> None:
    """No root stages file's own: pipelines under `pipelines/<name>/`, and a root stage using their outputs."""
    write_files(root, {
        "pipelines/prepare/dvc.yaml": """
            stages:
              split:
                cmd: python split.py
                deps: [split.py, ../../data/raw.csv]
                outs: [../../data/train.csv]
            """,
        "pipelines/prepare/split.py": "open('../../data/train.csv', 'w').write(open('../../data/raw.csv').read())\n",
        "pipelines/train/dvc.yaml": """
            vars:
              - config.yaml
            stages:
              fit:
                cmd: python fit.py ${fit}
                deps: [fit.py, ../../data/train.csv]
                params:
                  - config.yaml:
                    - fit
                outs: [model.bin]
                metrics:
                  - metrics.json:
                      cache: false
            """,
        "pipelines/train/config.yaml": "fit:\n  epochs: 3\n  lr: 0.01\n  shuffle: true\n  layers: [8, 4]\n",
        "pipelines/train/fit.py": TRAIN_PY,
        "dvc.yaml": """
            stages:
              report:
                cmd: python report.py
                deps: [report.py, pipelines/train/model.bin]
                outs: [report.txt]
            """,
        "report.py": "open('report.txt', 'w').write(open('pipelines/train/model.bin').read())\n",
        "data/raw.csv": "a,b\n1,2\n",
    })


def tracked_data(root: Path) -> None:
    """`.dvc`-tracked file and folder (written as `dvc add` writes them), a stage using both, a callback."""
    write_files(root, {
        "data/raw.csv": "x,y\n1,2\n3,4\n",
        "data/images/a.txt": "a\n",
        "data/images/b/c.txt": "c\n",
        "data/.gitignore": "/raw.csv\n/images\n",
        "dvc.yaml": """
            stages:
              featurize:
                cmd: python featurize.py
                deps: [featurize.py, data/raw.csv, data/images]
                outs: [features.txt]
              notify:
                cmd: echo done
            """,
        "featurize.py": "import os\nopen('features.txt', 'w').write(str(len(os.listdir('data/images'))))\n",
    })
    (root / "data" / "raw.csv.dvc").write_text(dvc_file(root / "data" / "raw.csv", "raw.csv"))
    text, _, _ = dvc_dir_file(root / "data" / "images", "images")
    (root / "data" / "images.dvc").write_text(text)


def monorepo(root: Path) -> None:
    """Three projects made with `dvc init --subdir` in one git repository (the caller runs `dvc init`)."""
    for name in ("project-1", "project-2", "project-3"):
        write_files(root / name, {
            "dvc.yaml": f"""
                stages:
                  train:
                    cmd: python train.py
                    deps: [train.py]
                    params: [lr]
                    outs: [model-{name}.bin]
                """,
            "params.yaml": "lr: 0.1\n",
            "train.py": f"open('model-{name}.bin', 'w').write('{name}')\n",
        })


def big_foreach(root: Path, items: int = 1200) -> None:
    """One `foreach` stage over many items (a real project had 1,347 such stages)."""
    names = "".join(f"      - s{i:04d}\n" for i in range(items))
    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text(
        "vars:\n  - shards:\n" + names
        + "stages:\n  shard:\n    foreach: ${shards}\n    do:\n      cmd: python make.py ${item}\n"
        "      deps: [make.py]\n      outs:\n        - out/${item}.txt\n")
    (root / "make.py").write_text("import sys, os\nos.makedirs('out', exist_ok=True)\n"
                                  "open(f'out/{sys.argv[1]}.txt', 'w').write(sys.argv[1])\n")


def reproduced_subfolder_project(root: Path, xp) -> Path:
    """`subfolder_pipelines` in a new git repository, reproduced with xp and committed."""
    from tests.conftest import git

    subfolder_pipelines(root)
    git(root, "init", "-q", "-b", "main")
    xp("repro", "-q", cwd=root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "reproduced")
    return root
