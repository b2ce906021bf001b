"""Bad input through the real `xp` command: one clear line, the file and line, a fix, nothing written.

Each case is one small project (as pypa/build keeps one fixture per failure): the files, the
command, where the error must point (the line holding a marker text), and words it must say.
After the command, every file of the project is byte for byte as before: no dvc.lock, no
outputs, no edited params file (invariant 4). Only `.xp/`, machine-local state, may appear.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import git

PARAMS = """\
train:
  lr: 0.1
  epochs: 10
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python -c "open('data.txt', 'w').write('data')"
    outs:
      - data.txt
  train:
    cmd: python -c "open('model.txt', 'w').write('model')"
    deps:
      - data.txt
    params:
      - train.lr
    outs:
      - model.txt
"""


@dataclass(frozen=True)
class Case:
    """A project, a command, and what its one error line must say."""

    files: dict[str, str]
    args: tuple[str, ...] = ("repro",)
    file: str = "dvc.yaml"
    """The file the error names (its first word after `error: `)."""
    marker: str | None = None
    """Text on the line the error must point at (in `file`); None: no line number."""
    says: tuple[str, ...] = ()
    """Fragments the message or hint must contain."""
    extra: dict[str, str] = field(default_factory=dict)
    """Files written after the commit (uncommitted), e.g. a stale dvc.lock."""


def stage(body: str, name: str = "train") -> str:
    """A dvc.yaml holding one stage with this (already indented) body."""
    return f"stages:\n  {name}:\n{body}"


CASES: dict[str, Case] = {
    # Malformed YAML points at the line where the problem is.
    "yaml-indentation": Case(
        {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n   deps: [data.csv]\n"},
        marker="   deps:", says=("malformed YAML", "indent")),
    "yaml-unclosed-bracket": Case(
        {"dvc.yaml": stage("    cmd: echo\n    outs: [out/${item}]\n  next:\n    cmd: echo\n")},
        marker="outs: [out", says=("malformed YAML", "'['", "quote")),
    "yaml-unclosed-quote": Case(
        {"dvc.yaml": stage('    cmd: "python train.py\n    deps:\n      - train.py\n')},
        marker='cmd: "python', says=("quoted string", "never closed")),
    "yaml-duplicate-stage": Case(
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo a\n  a:\n    cmd: echo b\n"},
        marker="  a:\n    cmd: echo b", says=("'a' appears twice",)),
    "yaml-tab": Case(
        {"dvc.yaml": "stages:\n  train:\n\tcmd: echo\n"},
        marker="\tcmd", says=("tab", "spaces")),
    "params-yaml-malformed": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": "train:\n  lr: 0.1\n  epochs: 10: 3\n"},
        file="params.yaml", marker="epochs", says=("malformed YAML",)),
    "params-yaml-is-a-list": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": "- 0.1\n- 10\n"},
        file="params.yaml", marker="- 0.1", says=("must be a mapping",)),
    "params-json-malformed": Case(
        {"dvc.yaml": stage("    cmd: echo\n    params:\n      - conf.json:\n"), "conf.json": '{"a": 1,\n "b": }\n'},
        file="conf.json", marker='"b"', says=("malformed JSON",)),
    "params-toml-malformed": Case(
        {"dvc.yaml": stage("    cmd: echo\n    params:\n      - conf.toml:\n"), "conf.toml": "a = 1\nb = = 2\n"},
        file="conf.toml", marker="b = =", says=("malformed TOML",)),
    # Unknown keys, with the closest valid key as the fix.
    "unknown-stage-key-cmdd": Case(
        {"dvc.yaml": stage("    cmdd: python train.py\n")},
        marker="cmdd:", says=("unknown key 'cmdd'", "did you mean 'cmd'?")),
    "unknown-stage-key-dep": Case(
        {"dvc.yaml": stage("    cmd: python train.py\n    dep:\n      - train.py\n")},
        marker="dep:", says=("unknown key 'dep'", "did you mean 'deps'?")),
    "unknown-top-level-key": Case(
        {"dvc.yaml": "stage:\n  train:\n    cmd: echo\n"},
        marker="stage:", says=("unknown key 'stage'", "did you mean 'stages'?")),
    "unknown-output-option": Case(
        {"dvc.yaml": stage("    cmd: echo > model.txt\n    outs:\n      - model.txt:\n          cach: false\n")},
        marker="cach:", says=("output 'model.txt'", "unknown key 'cach'", "did you mean 'cache'?")),
    "unknown-key-in-foreach-do": Case(
        {"dvc.yaml": stage("    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n      outz: [x]\n", "build")},
        marker="outz:", says=("unknown key 'outz'", "did you mean 'outs'?")),
    # Params dependencies.
    "missing-params-key": Case(
        {"dvc.yaml": PIPELINE.replace("train.lr", "train.lrr"), "params.yaml": PARAMS},
        marker="- train.lrr", says=("'train.lrr'", "params.yaml", "stage 'train'", "did you mean 'train.lr'?")),
    "missing-params-key-in-other-file": Case(
        {"dvc.yaml": stage("    cmd: echo\n    params:\n      - conf/model.yaml:\n"
                           "          - layers\n          - dropuot\n"),
         "conf/model.yaml": "layers: 3\ndropout: 0.5\n"},
        marker="- dropuot", says=("'dropuot'", "conf/model.yaml", "did you mean 'dropout'?")),
    "missing-params-file": Case(
        {"dvc.yaml": stage("    cmd: echo\n    params:\n      - conf.toml:\n")},
        marker="conf.toml", says=("params file 'conf.toml'", "does not exist")),
    # The graph.
    "cycle": Case(
        {"dvc.yaml": "stages:\n  a:\n    cmd: cp b.txt a.txt\n    deps: [b.txt]\n    outs: [a.txt]\n"
                     "  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"},
        marker="deps: [b.txt]", says=("cycle: a -> b -> a",)),
    "cycle-through-status": Case(
        {"dvc.yaml": "stages:\n  a:\n    cmd: cp b.txt a.txt\n    deps: [b.txt]\n    outs: [a.txt]\n"
                     "  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n"},
        args=("status",), marker="deps: [b.txt]", says=("cycle: a -> b -> a",)),
    "same-out-twice": Case(
        {"dvc.yaml": "stages:\n  a:\n    cmd: echo a > x.txt\n    outs: [x.txt]\n"
                     "  b:\n    cmd: echo b > x.txt\n    outs:\n      - x.txt\n"},
        marker="      - x.txt", says=("'a' and 'b' both produce 'x.txt'",)),
    "overlapping-outs": Case(
        {"dvc.yaml": "stages:\n  a:\n    cmd: mkdir -p data\n    outs: [data]\n"
                     "  b:\n    cmd: echo > data/f.txt\n    outs:\n      - data/f.txt\n"},
        marker="- data/f.txt", says=("'data/f.txt'", "overlaps", "'data'")),
    # Paths.
    "out-outside-repo": Case(
        {"dvc.yaml": stage("    cmd: echo > ../x\n    outs:\n      - ../x\n")},
        marker="- ../x", says=("'../x'", "outside the repository")),
    "out-absolute": Case(
        {"dvc.yaml": stage("    cmd: echo > /tmp/x\n    outs:\n      - /tmp/xp-absolute-out\n")},
        marker="- /tmp/xp-absolute-out", says=("'/tmp/xp-absolute-out'", "absolute")),
    "wdir-outside-repo": Case(
        {"dvc.yaml": stage("    cmd: echo\n    wdir: ../elsewhere\n")},
        marker="wdir:", says=("'../elsewhere'", "outside the repository")),
    "missing-dependency": Case(
        {"dvc.yaml": stage("    cmd: echo > model.txt\n    deps:\n      - train.py\n      - data/raw.csv\n"
                           "    outs: [model.txt]\n"), "train.py": ""},
        marker="- data/raw.csv", says=("'data/raw.csv'", "does not exist", "stage 'train'")),
    "missing-dependency-downstream-runs-nothing": Case(
        {"dvc.yaml": PIPELINE.replace("      - data.txt\n    params",
                                      "      - data.txt\n      - labels.csv\n    params"),
         "params.yaml": PARAMS},
        marker="- labels.csv", says=("'labels.csv'", "stage 'train'")),
    # Stage definitions.
    "undefined-var": Case(
        {"dvc.yaml": stage("    cmd: python train.py --lr ${train.lr}\n    outs:\n      - model-${modle}.pkl\n"),
         "params.yaml": PARAMS},
        marker="model-${modle}", says=("'${modle}' is not defined",)),
    "undefined-var-without-params-yaml": Case(
        {"dvc.yaml": stage("    cmd: echo ${nope} > x\n    outs: [x]\n")},
        marker="cmd: echo ${nope}", says=("'${nope}' is not defined",)),
    "list-var-inside-text": Case(
        {"dvc.yaml": "vars:\n  - layers: [1, 2]\n" + stage("    cmd: echo layers=${layers}\n")},
        marker="cmd: echo layers", says=("'${layers}'", "is a list and cannot be part of a command")),
    "mapping-var-inside-a-path": Case(
        {"dvc.yaml": "vars:\n  - train: {lr: 1}\n" + stage("    cmd: echo hi\n    outs:\n      - out-${train}.txt\n")},
        marker="- out-", says=("'${train}'", "cannot be part of a string")),
    "no-cmd": Case(
        {"dvc.yaml": stage("    deps:\n      - train.py\n"), "train.py": ""},
        marker="  train:", says=("stage 'train' has no command", "cmd:")),
    "cmd-list-holds-a-mapping": Case(
        {"dvc.yaml": stage("    cmd:\n      - echo one\n      - run: two\n")},
        marker="- run: two", says=("command 2 of stage 'train'",)),
    "deps-is-a-string": Case(
        {"dvc.yaml": stage("    cmd: echo\n    deps: train.py\n"), "train.py": ""},
        marker="deps: train.py", says=("`deps` of stage 'train' must be a list", "[train.py]")),
    "frozen-is-text": Case(
        {"dvc.yaml": stage('    cmd: echo\n    frozen: "no"\n')},
        marker="frozen:", says=("must be true or false",)),
    "foreach-without-do": Case(
        {"dvc.yaml": stage("    foreach: [a, b]\n    cmd: echo ${item}\n", "build")},
        marker="foreach:", says=("`foreach` but no `do`",)),
    "foreach-over-a-number": Case(
        {"dvc.yaml": "vars:\n  - n: 3\n" + stage("    foreach: ${n}\n    do:\n      cmd: echo ${item}\n", "build")},
        marker="foreach:", says=("must be a list or a mapping",)),
    "matrix-entry-not-a-list": Case(
        {"dvc.yaml": stage("    matrix:\n      model: cnn\n      seed: [1, 2]\n    cmd: echo ${item.model}\n")},
        marker="model: cnn", says=("matrix entry 'model'", "must be a list")),
    "vars-file-missing": Case(
        {"dvc.yaml": "vars:\n  - config/defaults.yaml\n" + stage("    cmd: echo ${seed}\n")},
        marker="- config/defaults.yaml", says=("'config/defaults.yaml'", "does not exist")),
    "vars-with-interpolation": Case(
        {"dvc.yaml": "vars:\n  - ${name}.yaml\n" + stage("    cmd: echo\n")},
        marker="- ${name}", says=("`vars` cannot use ${...}",)),
    "stage-name-with-at": Case(
        {"dvc.yaml": stage("    cmd: echo\n", "train@1")},
        marker="train@1:", says=("'@'",)),
    "dvc-lock-wrong-schema": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS},
        file="dvc.lock", marker="schema", says=("schema 2.0",),
        extra={"dvc.lock": "schema: '1.0'\nprepare:\n  cmd: echo\n"}),
    # Repositories and revisions.
    "no-commits-params-diff": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("params", "diff"),
        file="<repo>", says=("no commits yet", "git commit")),
    "unknown-stage": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "trian"),
        says=("unknown stage 'trian'", "did you mean 'train'?")),
    "unknown-stage-status": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("status", "prepar"),
        says=("unknown stage 'prepar'", "did you mean 'prepare'?")),
    "unknown-revision": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("params", "diff", "nosuchrev"),
        file="", says=("unknown revision 'nosuchrev'", "HEAD~N")),
    # -S overrides.
    "set-param-missing-key": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "-S", "train.lrr=0.1"),
        file="params.yaml", says=("'train.lrr' does not exist", "did you mean 'train.lr'?", "+train.lrr")),
    "set-param-without-value": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "-S", "novalue"),
        file="", says=("'novalue' has no '='", "key=value")),
    "set-param-bad-yaml-value": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "-S", "train.lr=[0.1"),
        file="", says=("'[0.1'", "not valid YAML", "quote")),
    "set-param-list-index-out-of-range": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS + "layers: [32, 64]\n"}, args=("repro", "-S", "layers.2=128"),
        file="params.yaml", says=("'layers' is a list of 2 items", "0 to 1")),
    "set-param-into-a-value": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "-S", "+train.lr.decay=0.5"),
        file="params.yaml", says=("'train.lr' holds a value",)),
    "set-param-missing-file": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS}, args=("repro", "-S", "conf.json:lr=0.1"),
        file="conf.json", says=("does not exist", "conf.json:+lr=")),
    "set-param-null-in-toml": Case(
        {"dvc.yaml": PIPELINE, "params.yaml": PARAMS, "conf.toml": "lr = 0.1\n"},
        args=("repro", "-S", "conf.toml:lr=null"), file="conf.toml", says=("TOML has no null",)),
}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the project except git's and xp's own state."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not {".git", ".xp"} & set(path.relative_to(root).parts)
    }


def line_holding(text: str, marker: str) -> int:
    """The 1-based line where `marker` starts (a marker may span lines)."""
    assert marker in text, f"marker {marker!r} is not in the file"
    return text[: text.index(marker)].count("\n") + 1


def the_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line xp printed on stderr (it must be exactly one, and an `error:`)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert " — " in lines[0], f"the error gives no fix: {lines[0]}"
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_line_and_writes_nothing(name: str, gen, xp) -> None:
    case = CASES[name]
    repo = gen(case.files, commit=name != "no-commits-params-diff")
    for rel, text in case.extra.items():
        (repo / rel).write_text(text)
    before = snapshot(repo)

    result = xp(*case.args, cwd=repo, expect=2)

    line = the_error_line(result)
    if case.file == "<repo>":
        assert line.startswith(f"error: {repo}"), line
    elif case.file:
        where = case.file
        if case.marker is not None:
            where += f":{line_holding((repo / case.file).read_text(), case.marker)}"
        assert line.startswith(f"error: {where}: "), f"expected the error at {where}:\n{line}"
    for fragment in case.says:
        assert fragment in line, f"{fragment!r} missing from:\n{line}"
    assert snapshot(repo) == before, "a file of the project changed"
    assert result.stdout == "" or "Running" not in result.stdout, "a stage ran"


def test_a_folder_that_is_not_a_repository_says_how_to_start(tmp_path: Path, xp) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "dvc.yaml").write_text(PIPELINE)

    line = the_error_line(xp("repro", cwd=folder, expect=2))

    assert "not inside a git repository" in line and str(folder) in line
    assert "git init" in line and "xp demo" in line
    assert sorted(p.name for p in folder.iterdir()) == ["dvc.yaml"], "nothing is created"


def test_an_upstream_stage_does_not_run_when_a_later_stage_is_broken(gen, xp) -> None:
    """The whole pipeline is checked before the first command runs (nothing half reproduced)."""
    repo = gen({"dvc.yaml": PIPELINE.replace("- train.lr", "- train.momentum"), "params.yaml": PARAMS})

    result = xp("repro", cwd=repo, expect=2)

    assert "train.momentum" in the_error_line(result)
    assert not (repo / "data.txt").exists() and not (repo / "dvc.lock").exists()


FAILING_TRAIN = """\
import sys

lr = float(open("params.yaml").read().split(":")[1])
with open("model.txt", "w") as f:
    f.write(f"weights trained with lr={lr}\\n")
print("epoch 1: loss 0.9")
if lr > 1:
    print("epoch 2: loss is nan, giving up")
    sys.exit(3)
print("epoch 2: loss 0.5")
"""


def test_a_failing_command_keeps_the_lock_and_the_last_good_output_restorable(gen, xp) -> None:
    repo = gen({
        "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n"
                    "    params: [lr]\n    outs: [model.txt]\n",
        "params.yaml": "lr: 0.1\n",
        "train.py": FAILING_TRAIN,
    })
    xp("repro", cwd=repo)
    lock = (repo / "dvc.lock").read_text()
    model = (repo / "model.txt").read_text()

    failed = xp("repro", "-S", "lr=5", cwd=repo, expect=1)

    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, failed.stderr
    assert "stage 'train'" in errors[0] and "code 3" in errors[0]
    assert "loss is nan, giving up" in failed.stderr, "the last output lines are shown"
    assert (repo / "dvc.lock").read_text() == lock, "dvc.lock is not updated for the failed stage"
    assert (repo / "model.txt").read_text() == "weights trained with lr=5.0\n", "the command did write"

    back = xp("repro", "-S", "lr=0.1", cwd=repo)

    assert "Restored stage 'train'" in back.stdout and "epoch" not in back.stdout, back.stdout
    assert (repo / "model.txt").read_text() == model
    assert (repo / "dvc.lock").read_text() == lock
    assert "Data and pipelines are up to date." in xp("repro", cwd=repo).stdout


def test_set_params_over_two_files_is_all_or_nothing(gen, xp) -> None:
    repo = gen({"dvc.yaml": PIPELINE, "params.yaml": PARAMS, "conf.yaml": "seed: 1\n"})
    before = snapshot(repo)

    line = the_error_line(xp("repro", "-S", "train.lr=0.5", "-S", "conf.yaml:sed=2", cwd=repo, expect=2))

    assert "did you mean 'seed'?" in line
    assert snapshot(repo) == before, "params.yaml was edited although the second -S was wrong"


def test_set_params_is_undone_when_the_pipeline_is_invalid(gen, xp) -> None:
    repo = gen({"dvc.yaml": PIPELINE.replace("cmd:", "cmdd:", 1), "params.yaml": PARAMS})
    before = snapshot(repo)

    line = the_error_line(xp("repro", "-S", "train.lr=0.5", cwd=repo, expect=2))

    assert "did you mean 'cmd'?" in line
    assert snapshot(repo) == before


def test_a_stale_lock_from_git_is_still_one_line(gen, xp) -> None:
    """A dvc.lock committed in the old DVC 2 format: the error names it, and git keeps it."""
    repo = gen({"dvc.yaml": PIPELINE, "params.yaml": PARAMS, "dvc.lock": "train:\n  cmd: echo\n"})

    line = the_error_line(xp("status", cwd=repo, expect=2))

    assert line.startswith("error: dvc.lock:1: ") and "delete dvc.lock" in line
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("lock", [
    "schema: '2.0'\nstages: [train]\n",
    "schema: '2.0'\nstages:\n  train:\n    cmd: echo\n    params:\n      params.yaml: [lr]\n",
    "schema: '2.0'\nstages:\n  train:\n    cmd: echo\n    outs:\n      - path: model.txt\n        size: big\n",
])
def test_a_lock_with_a_broken_entry_is_one_line(gen, xp, lock: str) -> None:
    repo = gen({"dvc.yaml": PIPELINE, "params.yaml": PARAMS, "dvc.lock": lock})

    line = the_error_line(xp("status", cwd=repo, expect=2))

    assert line.startswith("error: dvc.lock:") and "xp repro" in line
