"""DVC's flags on the commands xp mirrors, read from DVC 3.67.1's own parser: each one is in xp's
parser, or listed in NOT_YET with the reason, and docs/dvc-flags.md (the table users read) is
generated from the same data, so the table cannot drift from the code.

Regenerate the table with `XP_WRITE_FLAGS_DOC=1 pytest tests/test_dvc_flags.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from pyhelper.cli import build_parser
from tests.test_dvc_interop import dvc_bin  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "dvc-flags.md"

MIRRORED = [
    "repro", "status", "dag", "add", "stage add", "stage list", "params diff", "metrics show", "metrics diff",
    "exp run", "exp show", "exp diff", "exp apply", "exp branch", "exp list", "exp ls", "exp remove", "exp rm",
    "exp rename", "exp save", "exp clean", "exp push", "exp pull", "experiments show",
    "plots show", "plots diff", "plots templates", "plots modify",
    "queue start", "queue stop", "queue status", "queue logs", "queue kill", "queue remove",
    "push", "pull", "fetch", "remote add", "remote list", "remote modify", "remote default", "remote remove",
    "remote rename",
]
"""DVC commands xp has a command for (`experiments` stands for every alias of `exp`)."""

DEBUG = {"--cprofile", "--cprofile-dump", "--yappi", "--yappi-separate-threads", "--viztracer", "--viztracer-depth",
         "--viztracer-async", "--pdb", "--instrument", "--instrument-open", "--show-stack"}
"""DVC's profiling and debugging options (its developers'), not behaviour a user relies on."""

REMOTE = "needs DVC remote storage (issue 18)"
NOT_YET: dict[tuple[str, str], str] = {
    ("status", "--no-updates"): "imports are not supported yet",
    ("add", "--to-remote"): REMOTE, ("add", "--remote"): REMOTE, ("add", "--remote-jobs"): REMOTE,
    ("add", "--no-commit"): "not yet", ("add", "--glob"): "not yet", ("add", "--out"): "not yet",
    ("add", "--force"): "not yet", ("add", "--no-relink"): "not yet",
    ("repro", "--interactive"): "not yet",
    ("exp run", "--interactive"): "not yet", ("exp run", "--no-hydra"): "xp has no Hydra composition",
    ("exp run", "-M"): "not yet",
    ("stage list", "--fail"): "not yet", ("stage list", "--recursive"): "not yet",
    ("dag", "--collapse-foreach-matrix"): "not yet", ("metrics show", "--recursive"): "not yet",
    ("metrics diff", "--recursive"): "not yet",
    ("exp show", "--no-fetch"): "DVC-internal (its temp-dir executors)", ("exp show", "--force"): "DVC-internal",
    ("exp remove", "--git-remote"): "not yet",
    ("exp rename", "--git-remote"): "not yet",
    ("exp save", "--recursive"): "not yet", ("exp save", "--include-untracked"): "not yet",
    ("exp save", "-M"): "not yet",
    ("exp push", "--force"): "never forced (a teammate's experiment is never overwritten)",
    ("exp pull", "--force"): "never forced",

    ("plots diff", "--experiment"): "xp takes experiment names as revisions",
    ("queue logs", "--encoding"): "not yet",
    ("pull", "--force"): "not yet (xp keeps what a pull replaces in the cache, so nothing is lost without it)",
    ("fetch", "--max-size"): "not yet", ("fetch", "--type"): "not yet",
    **{(f"remote {verb}", flag): "xp reads the project's config files only (not ~/.config/dvc or /etc/xdg/dvc)"
       for verb in ("add", "list", "modify", "default", "remove", "rename") for flag in ("--global", "--system")},
    ("remote list", "--local"): "not yet (lists both files merged)", ("remote list", "--project"): "not yet",
    ("remote remove", "--local"): "removes it from both files", ("remote remove", "--project"): "from both files",
    ("remote rename", "--local"): "renames it in both files", ("remote rename", "--project"): "in both files",
}
"""DVC flags xp does not have, each with why. A flag that appears in xp must leave this list."""

NOTES: dict[tuple[str, str], str] = {
    ("exp show", "--json"): "DVC's records; xp's rows (queue entries, tags, steps) with --xp-json",
    ("plots show", "--json"): "DVC's JSON; xp's (revisions, xp's specs) with --xp-json; images under .xp/plots/ "
                              "unless -o",
    ("plots diff", "--json"): "DVC's JSON; xp's (revisions, xp's specs) with --xp-json; images under .xp/plots/ "
                              "unless -o",
    ("plots show", "--no-header"): "in --json and --show-vega; xp's report and --xp-json read a header row yet",
    ("plots diff", "--no-header"): "in --json and --show-vega; xp's report and --xp-json read a header row yet",
    ("plots show", "--html-template"): "xp's self-contained report at {plot_divs}, its scripts at {scripts}",
    ("plots diff", "--html-template"): "xp's self-contained report at {plot_divs}, its scripts at {scripts}",
    ("exp apply", "--force"): "DVC overwrites by default; xp refuses by default and --force saves the workspace first",
    ("exp run", "--force"): "also replaces an experiment of the same name",
    ("repro", "--glob"): "a pattern that matches nothing is an error (DVC then runs every stage)",
    ("exp show", "--no-pager"): "xp never pages yet",
    ("status", "--jobs"): "accepted and unused: xp lists each prefix folder of the remote once, not per object",
    ("pull", "--allow-missing"): "xp's pull never fails on objects the remote lacks: it names them and goes on",
    **{(verb, "--no-run-cache"): "the outputs each entry names travel with it (DVC's moves the entries only)"
       for verb in ("push", "pull", "fetch", "exp push", "exp pull")},
}
"""Flags xp has whose behaviour differs from DVC's in a way a user should know."""

REFUSED: dict[tuple[str, str], str] = {
    ("repro", "--no-commit"): "refused with the reason: xp caches every output so the run-cache can restore it",
}
"""Flags xp accepts only to say in one line why it will not do that (not counted as xp having them)."""


def _dvc_flags(dvc_bin: str) -> dict[str, list[list[str]]]:  # noqa: F811
    python = str(Path(dvc_bin).with_name("python"))
    out = subprocess.run([python, str(ROOT / "scripts" / "dvc_flags.py")], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _xp_flags() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        flags: set[str] = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            flags.update(action.option_strings)
        found[" ".join(path)] = flags

    walk(build_parser(None), [])
    return found


def _xp_command(command: str) -> str:
    return command.replace("experiments ", "exp ")


def _canonical(command: str) -> str:
    """The name NOT_YET uses for a command or its aliases (`exp rm` → `exp remove`)."""
    command = _xp_command(command)
    return {"exp ls": "exp list", "exp rm": "exp remove"}.get(command, command)


def _table(dvc: dict[str, list[list[str]]], xp: dict[str, set[str]]) -> tuple[str, list[str], int, int]:
    lines = ["# DVC 3.67.1's flags in xp", "",
             "Generated by `tests/test_dvc_flags.py` from DVC's own parser and xp's; DVC's profiling options",
             "(`--cprofile`, `--pdb`, …) are left out. ✓: xp has it (same meaning); otherwise why not.", ""]
    problems: list[str] = []
    have = total = 0
    for command in MIRRORED:
        ours = xp.get(_xp_command(command))
        if command not in dvc:
            problems.append(f"DVC has no command '{command}'")
            continue
        if ours is None:
            if (_canonical(command), "*") not in NOT_YET:
                problems.append(f"xp has no command '{_xp_command(command)}'")
                continue
            ours = set()
        rows = []
        for action in dvc[command]:
            if action[0] in DEBUG:
                continue
            total += 1
            name = action[0]
            refused = REFUSED.get((_canonical(command), name))
            if refused is not None:
                if not any(flag in ours for flag in action):
                    problems.append(f"'{command} {name}' is not in xp: move it from REFUSED to NOT_YET")
                rows.append(f"| `{' '.join(action)}` | {refused} |")
                continue
            if any(flag in ours for flag in action):
                have += 1
                note = NOTES.get((_canonical(command), name))
                rows.append(f"| `{' '.join(action)}` | ✓{' — ' + note if note else ''} |")
                if (_canonical(command), name) in NOT_YET:
                    problems.append(f"'{command} {name}' is in xp now: remove it from NOT_YET")
                continue
            reason = NOT_YET.get((_canonical(command), name)) or NOT_YET.get((_canonical(command), "*"))
            if reason is None:
                problems.append(f"'{command} {name}' is neither in xp nor in NOT_YET")
                reason = "MISSING"
            rows.append(f"| `{' '.join(action)}` | {reason} |")
        lines += [f"## `dvc {command}`", "", "| flag | in xp |", "|---|---|", *rows, ""]
    lines.insert(5, f"xp has {have} of the {total} flags below.\n")
    return "\n".join(lines) + "\n", problems, have, total


@pytest.mark.dvc
def test_every_dvc_flag_is_in_xp_or_says_why(dvc_bin):  # noqa: F811
    text, problems, have, total = _table(_dvc_flags(dvc_bin), _xp_flags())
    print(f"xp has {have} of DVC's {total} flags on the mirrored commands")
    if os.environ.get("XP_WRITE_FLAGS_DOC"):
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
    assert not problems, "\n".join(problems)
    assert DOC.is_file() and DOC.read_text() == text, \
        "docs/dvc-flags.md is out of date: XP_WRITE_FLAGS_DOC=1 pytest tests/test_dvc_flags.py"


# The flags behave as DVC's: each is used the way a DVC user would.

def _project(tmp_path: Path, xp) -> Path:
    from tests import real_projects

    return real_projects.reproduced_subfolder_project(tmp_path / "repo", xp)


def _would(xp, repo: Path, *args: str) -> list[str]:
    return json.loads(xp("repro", "--dry", "--json", *args, cwd=repo).stdout)["wouldRun"]


@pytest.mark.dvc
def test_repro_selection_flags_choose_the_stages_dvc_chooses(tmp_path, xp, dvc_bin):  # noqa: F811
    import re

    from tests.test_dvc_interop import dvc

    repo = _project(tmp_path, xp)
    dvc(dvc_bin, repo, "init", "-q")
    fit = "pipelines/train/dvc.yaml:fit"
    for args in (["-f", fit], ["-f", "--downstream", fit], ["-f", "-s", "report"], ["-f", "-p", "report"],
                 ["-f", "-P"], ["-f", "-R", "pipelines/train"], ["-f", "--glob", "rep*"],
                 ["-f", "--glob", "pipelines/train/dvc.yaml:f*"]):
        theirs = re.findall(r"Running stage '([^']+)'", dvc(dvc_bin, repo, "repro", "--dry", *args))
        assert sorted(_would(xp, repo, *args)) == sorted(theirs), args
    assert "no stage matches 'nothing*'" in xp("repro", "--glob", "nothing*", cwd=repo, expect=2).stderr


def test_keep_going_runs_what_does_not_depend_on_the_failure(gen, xp):
    repo = gen({"dvc.yaml": "stages:\n  bad:\n    cmd: echo half > bad.txt; exit 3\n    outs: [bad.txt]\n"
                            "  after:\n    cmd: cp bad.txt after.txt\n    deps: [bad.txt]\n    outs: [after.txt]\n"
                            "  other:\n    cmd: echo ok > other.txt\n    outs: [other.txt]\n"}, commit=False)
    result = xp("repro", cwd=repo, expect=1)
    assert not (repo / "other.txt").exists(), "without -k the first failure stops everything"
    result = xp("repro", "-k", cwd=repo, expect=1)
    assert (repo / "other.txt").read_text() == "ok\n"
    assert "Stage 'after' cannot run: waits for stage 'bad', which failed" in result.stdout
    assert "not done: 'bad', 'after'" in result.stderr
    result = xp("repro", "--ignore-errors", "-f", cwd=repo, expect=1)
    assert "Running stage 'after'" in result.stdout, "--ignore-errors runs what comes after too"


def test_status_targets_alone_or_with_deps(tmp_path, xp):
    repo = _project(tmp_path, xp)
    (repo / "data" / "raw.csv").write_text("a,b\n5,6\n")
    assert json.loads(xp("status", "report", "--json", cwd=repo).stdout) == {}
    with_deps = json.loads(xp("status", "report", "--with-deps", "--json", cwd=repo).stdout)
    assert list(with_deps) == ["pipelines/prepare/dvc.yaml:split"]
    assert list(json.loads(xp("status", "-R", "pipelines/prepare", "--json", cwd=repo).stdout)) == [
        "pipelines/prepare/dvc.yaml:split"]


def test_exp_run_dry_copy_paths_and_aliases(tmp_path, xp):
    repo = _project(tmp_path, xp)
    before = (repo / "pipelines/train/config.yaml").read_text()
    out = json.loads(xp("exp", "run", "--dry", "--json", "-S", "pipelines/train/config.yaml:fit.epochs=9",
                        cwd=repo).stdout)
    assert out["wouldRun"] == ["pipelines/train/dvc.yaml:fit", "report"]
    assert (repo / "pipelines/train/config.yaml").read_text() == before, "--dry leaves the params as they were"
    assert xp("experiments", "list", cwd=repo).stdout == ""

    # An ignored file the stage needs is copied into the private copy with --copy-paths.
    (repo / ".gitignore").write_text("/secret.txt\n")
    (repo / "secret.txt").write_text("s")
    (repo / "report.py").write_text("open('report.txt', 'w').write(open('secret.txt').read())\n")
    xp("exp", "run", "--temp", "-C", "secret.txt", "-n", "copied", cwd=repo)
    assert "copied" in xp("exp", "ls", "--name-only", cwd=repo).stdout
    xp("exp", "rm", "copied", cwd=repo)
    assert "copied" not in xp("exp", "list", "--name-only", cwd=repo).stdout
    assert "applies to a private copy" in xp("exp", "run", "-C", "secret.txt", cwd=repo, expect=2).stderr


def test_exp_show_hides_rows_and_names_baselines_by_sha(tmp_path, xp):
    repo = _project(tmp_path, xp)
    xp("exp", "run", "--temp", "-n", "one", cwd=repo)
    xp("exp", "run", "--queue", "-n", "waiting", cwd=repo)
    names = lambda *a: [r["name"] for r in json.loads(xp("exp", "show", "--xp-json", *a, cwd=repo).stdout)]  # noqa: E731
    assert "waiting" in names() and "workspace" in names()
    assert "waiting" not in names("--hide-queued") and "workspace" not in names("--hide-workspace")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert head[:7] in names("--sha") and "main" not in names("--sha")
    assert xp("exp", "show", "--no-pager", cwd=repo).stdout.startswith("Experiment")


def test_exp_apply_no_force_refuses_as_the_default_does(tmp_path, xp):
    repo = _project(tmp_path, xp)
    xp("exp", "run", "--temp", "-S", "pipelines/train/config.yaml:fit.epochs=5", "-n", "five", cwd=repo)
    (repo / "pipelines/train/config.yaml").write_text(
        "fit:\n  epochs: 1\n  lr: 0.01\n  shuffle: true\n  layers: [8, 4]\n")
    result = xp("exp", "apply", "--no-force", "five", cwd=repo, expect=2)
    assert "config.yaml" in result.stderr
    assert "epochs: 1" in (repo / "pipelines/train/config.yaml").read_text()


def test_plots_out_is_a_folder_as_in_dvc(tmp_path, xp):
    from pyhelper.demo import create

    repo = create(tmp_path / "demo")
    xp("repro", "-q", cwd=repo)
    xp("plots", "show", "-o", "dvc_plots", cwd=repo)
    assert (repo / "dvc_plots" / "index.html").is_file()


@pytest.mark.dvc
def test_exp_list_and_diff_print_what_dvc_prints(tmp_path, xp, dvc_bin):  # noqa: F811
    from tests.conftest import git
    from tests.test_dvc_interop import dvc

    repo = _project(tmp_path, xp)
    dvc(dvc_bin, repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dvc init")
    for name, epochs in (("zeta", 5), ("alpha", 6)):
        xp("exp", "run", "--temp", "-n", name, "-S", f"pipelines/train/config.yaml:fit.epochs={epochs}", cwd=repo)
    for args in ([], ["--name-only"], ["--sha-only"], ["--rev", "HEAD"], ["-n", "2"]):
        assert xp("exp", "list", *args, cwd=repo).stdout == dvc(dvc_bin, repo, "exp", "list", *args), args
    assert sorted(xp("exp", "ls", "-A", cwd=repo).stdout.splitlines()) == sorted(
        dvc(dvc_bin, repo, "exp", "list", "-A").splitlines())
    for args in (["zeta", "alpha"], ["HEAD", "alpha"], ["--all", "zeta", "alpha"], ["--param-deps", "zeta", "alpha"]):
        ours = json.loads(xp("exp", "diff", *args, "--json", cwd=repo).stdout)
        assert ours == json.loads(dvc(dvc_bin, repo, "exp", "diff", *args, "--json")), args
    assert "Path" not in xp("exp", "diff", "zeta", "alpha", "--no-path", cwd=repo).stdout


def test_plots_properties_from_the_command_line(tmp_path, xp):
    from pyhelper.demo import create

    repo = create(tmp_path / "demo")
    xp("repro", "-q", cwd=repo)
    out = json.loads(xp("plots", "show", "train_log.tsv", "-x", "epoch", "-y", "accuracy", "--template", "scatter",
                        "--title", "Validation", "--y-label", "loss on held-out data", "--xp-json", cwd=repo).stdout)
    (plot,) = out["plots"]
    assert plot["template"] == "scatter"
    text = json.dumps(plot["spec"])
    assert "Validation" in text and "loss on held-out data" in text
    assert plot["spec"]["title"] == "Validation"
    assert "unknown plot template 'pie'" in xp("plots", "show", "--template", "pie", cwd=repo, expect=2).stderr


def test_exp_remove_keep_num_and_queue(tmp_path, xp):
    from tests.conftest import git

    repo = _project(tmp_path, xp)
    for name in ("a", "b", "c"):
        xp("exp", "save", "-n", name, cwd=repo)
    xp("exp", "rm", "--keep", "b", cwd=repo)
    assert xp("exp", "list", "--name-only", cwd=repo).stdout.split() == ["b"]
    (repo / "extra.txt").write_text("x")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "next")
    xp("exp", "save", "-n", "d", cwd=repo)
    xp("exp", "remove", "--rev", "HEAD", "-n", "2", cwd=repo)
    assert xp("exp", "list", "-A", "--name-only", cwd=repo).stdout.split() == []
    xp("exp", "run", "--queue", "-n", "later", cwd=repo)
    assert "Removed 1 entry." in xp("exp", "remove", "--queue", cwd=repo).stdout
    assert "later" not in xp("queue", "status", cwd=repo).stdout
