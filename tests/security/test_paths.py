"""Paths from files xp does not own: a pulled experiment's locks, manifests, trailers and tree, `-S`, dvc.yaml.

A teammate's experiment is pulled from a bare remote the test makes (the teammate works in a clone of it),
and `xp exp apply` must then refuse, in one line and before anything is written, every path that would
lead outside the work tree: directly, through a `.dir` manifest, a forged `xp-checkpoint:` trailer, a
symlink the experiment brings, or a symlinked folder already in the workspace. The outside file stays as
it was, and so do the experiment's ordinary files (nothing is half-applied).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, git
from tests.test_experiments import one_line_error

PAYLOAD = b"pwned\n"
VICTIM = b"the victim's own bytes\n"

PIPELINE = {
    "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    params: [lr]\n"
                "    outs: [model.bin]\n",
    "params.yaml": "lr: 0.1\n",
    "train.py": "open('model.bin', 'w').write('weights\\n')\n",
}


@pytest.fixture
def team(gen, xp, tmp_path):
    """(the user's reproduced repository, an outside folder holding victim.txt, a way to pull a teammate's
    experiment)."""
    repo = gen(PIPELINE)
    xp("repro", "-q", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "team", str(bare))
    git(repo, "push", "-q", "team", "main")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_bytes(VICTIM)

    def pulled(name: str, change: Callable[[Path], None], message: str = "a teammate's experiment") -> str:
        """The teammate clones, changes params.yaml (so a half-applied workspace would show) and `change`s the
        rest, commits and pushes it as experiment `name`; the user pulls it. Returns the commit."""
        clone = tmp_path / f"clone-{name}"
        git(tmp_path, "clone", "-q", str(bare), str(clone))
        (clone / "params.yaml").write_text("lr: 0.2\n")
        change(clone)
        git(clone, "add", "-A")
        git(clone, "commit", "-q", "-m", message)
        return push(clone, name)

    def push(clone: Path, name: str, rev: str = "HEAD") -> str:
        commit = git(clone, "rev-parse", rev).strip()
        base = git(clone, "rev-parse", "origin/main").strip()  # The user's HEAD: the experiment's baseline.
        git(clone, "push", "-q", "origin", f"{commit}:refs/exps/{base[:2]}/{base[2:]}/{name}")
        xp("exp", "pull", "team", name, cwd=repo)
        return commit

    pulled.push = push  # type: ignore[attr-defined]
    return repo, outside, pulled


def cached(repo: Path, data: bytes, suffix: str = "") -> str:
    """Puts `data` into the user's object cache (as `dvc pull` or a shared cache would) and returns its md5."""
    md5 = hashlib.md5(data).hexdigest() + suffix
    obj = repo / ".xp" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    return md5


def add_outs(clone: Path, *entries: str) -> None:
    """Adds output records to the train stage of the clone's dvc.lock."""
    lock = clone / "dvc.lock"
    lock.write_text(lock.read_text().replace("    outs:\n", "    outs:\n" + "".join(entries), 1))


def out(path: str, md5: str, size: int = 6, nfiles: int | None = None) -> str:
    """One output record of dvc.lock."""
    return (f"    - path: {path}\n      hash: md5\n      md5: {md5}\n      size: {size}\n"
            + (f"      nfiles: {nfiles}\n" if nfiles is not None else ""))


def refused(repo: Path, outside: Path, xp, name: str, *says: str) -> str:
    """Applies `name` expecting a one-line refusal that says `says`, with nothing written anywhere."""
    line = one_line_error(xp("exp", "apply", name, "--force", cwd=repo, expect=2))
    for part in says:
        assert part in line, line
    assert "nothing was applied" in line, line
    assert (outside / "victim.txt").read_bytes() == VICTIM, "the outside file was changed"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"], "something was written outside"
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n", "the experiment was half-applied"
    assert (repo / "model.bin").read_text() == "weights\n"
    return line


@pytest.mark.parametrize("relpath", ["../outside/x", "../../outside/victim.txt", "/ABS/victim.txt", "a/../../x", ""])
def test_a_manifest_listing_a_path_outside_its_folder_is_refused(team, xp, relpath):
    repo, outside, pulled = team
    relpath = relpath.replace("/ABS", str(outside))
    payload = cached(repo, PAYLOAD)
    manifest = json.dumps([{"md5": payload, "relpath": relpath}], sort_keys=True).encode()
    folder = cached(repo, manifest, ".dir")
    pulled("evil", lambda clone: add_outs(clone, out("results", folder, nfiles=1)))
    refused(repo, outside, xp, "evil", f"lists '{relpath}'", "outside its folder")


def test_a_manifest_whose_md5s_are_paths_is_refused(team, xp):
    repo, outside, pulled = team
    manifest = json.dumps([{"md5": f"xx{outside}/victim.txt", "relpath": "v.txt"}], sort_keys=True).encode()
    folder = cached(repo, manifest, ".dir")
    pulled("evil", lambda clone: add_outs(clone, out("results", folder, nfiles=1)))
    refused(repo, outside, xp, "evil", "is not an md5")


def test_an_md5_that_is_a_path_is_refused_before_the_cache_is_asked(team, xp):
    """`xx/abs/path` as an md5 made the cache's object path the victim: its hash differed, so it was deleted."""
    repo, outside, pulled = team
    pulled("evil", lambda clone: add_outs(clone, out("stolen.txt", f"xx{outside}/victim.txt")))
    refused(repo, outside, xp, "evil", "holds dvc.lock:", "which xp cannot read", "stage 'train'")


@pytest.mark.parametrize("path, shown", [("../outside/victim.txt", None), ("/ABS/victim.txt", None),
                                         ("../outside", None), (".", None), ("sub/..", "."),
                                         (".git/hooks/pre-commit", None)])
def test_a_lock_listing_a_path_outside_the_work_tree_is_refused(team, xp, path, shown):
    """Also the outside folder itself (it became a file) and the work tree (`.`: it was deleted whole)."""
    repo, outside, pulled = team
    path = path.replace("/ABS", str(outside))
    payload = cached(repo, PAYLOAD)
    pulled("evil", lambda clone: add_outs(clone, out(path, payload)))
    line = refused(repo, outside, xp, "evil", f"lists output '{shown or path}'", "(in its dvc.lock)")
    assert "which is the work tree itself" in line if (shown or path) == "." else "work tree itself" not in line
    assert (repo / ".git" / "HEAD").is_file()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


@pytest.mark.parametrize("path", ["../x", "../outside/victim.txt", "/ABS/victim.txt", ".", ".git/config"])
def test_a_forged_checkpoint_trailer_is_refused(team, xp, path):
    repo, outside, pulled = team
    path = path.replace("/ABS", str(outside))
    payload = cached(repo, PAYLOAD)
    trailer = json.dumps({"step": 1, "stage": "train", "outs": {path: {"md5": payload, "size": 6}}})
    pulled("evil", lambda clone: None, message=f"checkpoint 1\n\nxp-checkpoint: {trailer}")
    refused(repo, outside, xp, "evil", f"'{path}'", "xp-checkpoint")
    assert "evil" in xp("exp", "show", cwd=repo).stdout  # Listed as ever: only restoring it is refused.


@pytest.mark.parametrize("temp", [False, True])
def test_resuming_from_a_forged_checkpoint_is_refused(team, xp, temp):
    repo, outside, pulled = team
    payload = cached(repo, PAYLOAD)
    trailer = json.dumps({"step": 1, "stage": "train", "outs": {"../outside/victim.txt": {"md5": payload}}})
    pulled("evil", lambda clone: None, message=f"checkpoint 1\n\nxp-checkpoint: {trailer}")
    result = xp("exp", "run", "--resume", "evil", *(["--temp"] if temp else []), cwd=repo, expect=2)
    assert "lists output '../outside/victim.txt', which is outside the repository" in one_line_error(result)
    assert (outside / "victim.txt").read_bytes() == VICTIM
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n"


def test_a_checkpoint_trailer_whose_md5_is_a_path_is_refused(team, xp):
    repo, outside, pulled = team
    trailer = json.dumps({"step": 1, "stage": "train", "outs": {"model.bin": {"md5": f"xx{outside}/victim.txt"}}})
    pulled("evil", lambda clone: None, message=f"checkpoint 1\n\nxp-checkpoint: {trailer}")
    refused(repo, outside, xp, "evil", "xp-checkpoint", "not an md5")


@pytest.mark.parametrize("target", ["ABS", "../outside", "../../..", "sub/../../outside"])
def test_a_symlink_out_of_the_work_tree_in_the_experiment_is_refused(team, xp, target):
    """Whatever xp (or the user's next `xp repro`) wrote below `results/` would land outside."""
    repo, outside, pulled = team
    target = target.replace("ABS", str(outside))
    payload = cached(repo, PAYLOAD)

    def change(clone: Path) -> None:
        (clone / "results").symlink_to(target)
        add_outs(clone, out("results/victim.txt", payload))

    pulled("evil", change)
    refused(repo, outside, xp, "evil", f"holds a symlink 'results' to '{target}'", "outside the work tree")
    assert not (repo / "results").is_symlink()


def test_a_symlink_chain_through_the_experiments_own_links_is_refused(team, xp):
    """`x/y/a -> ../../z` is harmless, and `x/y/b -> a/../..` reads as `x`; but followed, `a/..` is the work
    tree itself (a is z), so b is the work tree's parent."""
    repo, outside, pulled = team

    def change(clone: Path) -> None:
        (clone / "z").mkdir()
        (clone / "z" / "keep.txt").write_text("x\n")
        (clone / "x" / "y").mkdir(parents=True)
        (clone / "x" / "y" / "a").symlink_to("../../z")
        (clone / "x" / "y" / "b").symlink_to("a/../..")

    pulled("evil", change)
    refused(repo, outside, xp, "evil", "holds a symlink 'x/y/b' to 'a/../..'", "outside the work tree")


def test_a_folder_made_a_symlink_does_not_delete_through_it(team, xp, tmp_path):
    """HEAD has data/old.txt; the experiment makes `data` a symlink to the outside folder and drops data/old.txt:
    deleting it after writing the symlink deleted the outside folder's old.txt."""
    repo, outside, pulled = team
    (repo / "data").mkdir()
    (repo / "data" / "victim.txt").write_text("tracked\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data")
    git(repo, "push", "-q", "team", "main")

    def change(clone: Path) -> None:
        (clone / "data" / "victim.txt").unlink()
        (clone / "data").rmdir()
        (clone / "data").symlink_to(outside)

    pulled("evil", change)
    refused(repo, outside, xp, "evil", "holds a symlink 'data'")
    assert (repo / "data" / "victim.txt").read_text() == "tracked\n"


def test_a_symlinked_folder_of_the_users_own_is_never_written_through(team, xp):
    """The user's committed `shared -> /outside` stays; an experiment's file or output below it is refused."""
    repo, outside, pulled = team
    (repo / "shared").symlink_to(outside)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a shared folder")
    git(repo, "push", "-q", "team", "main")
    payload = cached(repo, PAYLOAD)
    pulled("viaout", lambda clone: add_outs(clone, out("shared/victim.txt", payload)))
    refused(repo, outside, xp, "viaout", "lists output 'shared/victim.txt'", "outside the work tree")

    def as_folder(clone: Path) -> None:
        (clone / "shared").unlink()
        (clone / "shared").mkdir()
        (clone / "shared" / "victim.txt").write_bytes(PAYLOAD)

    # A folder where the user has a symlink: git's way, the (committed) symlink is replaced, nothing written through.
    pulled("viagit", as_folder)
    xp("exp", "apply", "viagit", cwd=repo)
    assert (outside / "victim.txt").read_bytes() == VICTIM
    assert not (repo / "shared").is_symlink() and (repo / "shared" / "victim.txt").read_bytes() == PAYLOAD


def raw_tree(clone: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree object written as bytes (git's own checks skipped, as a hostile remote's objects are):
    (mode, name, id)."""
    data = b"".join(mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid) for mode, name, oid in entries)
    return subprocess.run(["git", "hash-object", "-t", "tree", "--literally", "-w", "--stdin"], cwd=clone, input=data,
                          capture_output=True, check=True).stdout.decode().strip()


@pytest.mark.parametrize("name", [".git", ".GIT", ".xp"])
def test_a_tree_writing_into_git_or_xp_state_is_refused(team, xp, tmp_path, name):
    """A tree holding `.git/hooks/pre-commit` (git itself refuses to check it out) made apply write the hook."""
    repo, outside, pulled = team
    clone = tmp_path / "clone-raw"
    git(tmp_path, "clone", "-q", str(tmp_path / "team.git"), str(clone))
    hook = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=clone, input=b"#!/bin/sh\ntouch pwned\n",
                          capture_output=True, check=True).stdout.decode().strip()
    hooks = raw_tree(clone, [("100755", "pre-commit", hook)])
    inner = raw_tree(clone, [("40000", "hooks", hooks)])
    top = git(clone, "cat-file", "-p", "HEAD^{tree}").splitlines()
    entries = [(line.split()[0], line.split("\t")[1], line.split()[2]) for line in top]
    entries = sorted([*entries, ("40000", name, inner)], key=lambda e: e[1] + ("/" if e[0] == "40000" else ""))
    tree = raw_tree(clone, entries)
    commit = subprocess.run(["git", "commit-tree", tree, "-p", "HEAD", "-m", "hooks"], cwd=clone, capture_output=True,
                            text=True, check=True, env={**os.environ, **GIT_ENV}).stdout.strip()
    pulled.push(clone, "evil", commit)
    line = refused(repo, outside, xp, "evil", f"'{name}/hooks/pre-commit'")
    assert "inside git's or xp's own folder" in line
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert name == ".git" or not (repo / name / "hooks").exists()


# -- `-S FILE:KEY=VALUE`: only params files of the project ----------------------------------------------


@pytest.fixture
def project_and_outside(gen, tmp_path):
    """A project (not yet reproduced) and an outside params file, with a symlink to it in the project."""
    repo = gen(PIPELINE)
    victim = tmp_path / "victim.yaml"
    victim.write_text("a: 1\n")
    (repo / "linked.yaml").symlink_to(victim)
    (repo / "conf").mkdir()
    (repo / "conf" / "real.yaml").write_text("a: 1\n")
    (repo / "inside.yaml").symlink_to("conf/real.yaml")
    return repo, victim


SET_OUTSIDE = [("ABS:a=2", "is outside the project"), ("../victim.yaml:a=2", "is outside the project"),
               ("linked.yaml:a=2", "leads outside the project through a symlink"),
               (".git/x.yaml:+a=2", "in git's or xp's own folder")]


@pytest.mark.parametrize("command", [("repro",), ("exp", "run"), ("exp", "run", "--temp"), ("exp", "run", "--dry")])
@pytest.mark.parametrize("assignment, says", SET_OUTSIDE)
def test_set_param_never_edits_a_file_outside_the_project(project_and_outside, xp, command, assignment, says):
    repo, victim = project_and_outside
    assignment = assignment.replace("ABS", str(victim))
    line = one_line_error(xp(*command, "-S", assignment, cwd=repo, expect=2))
    assert says in line and "-S edits params files of the project only" in line
    assert victim.read_text() == "a: 1\n"
    assert not (repo / ".git" / "x.yaml").exists()
    assert not (repo / "model.bin").exists(), "the stage ran"


def test_set_param_edits_a_symlinked_params_file_inside_the_project_in_place(project_and_outside, xp):
    """A link that stays inside is followed: its target is edited and the link kept."""
    repo, _ = project_and_outside
    xp("repro", "-S", "inside.yaml:a=3", cwd=repo)
    assert (repo / "inside.yaml").is_symlink() and (repo / "conf" / "real.yaml").read_text() == "a: 3\n"


@pytest.mark.asyncio
async def test_the_servers_repro_never_edits_a_file_outside_the_project(project_and_outside):
    from pygls.exceptions import JsonRpcException

    from pyhelper.server import protocol as p
    from tests.lsp_client import request, started

    repo, victim = project_and_outside
    async with started(repo) as client:
        with pytest.raises(JsonRpcException) as caught:  # Refused at once (-32001), before anything starts.
            await request(client, p.REPRO_PIPELINE, p.ReproPipelineParams(
                params=["../victim.yaml:a=2", f"{victim}:a=2"], work_done_token="out"))
        assert caught.value.code == p.BAD_INPUT
        assert "the params file '../victim.yaml' of override '../victim.yaml:a=2' is outside" in caught.value.message
    assert victim.read_text() == "a: 1\n"
    assert not (repo / "model.bin").exists()


# -- dvc.yaml's metrics, params and plots are read only inside the repository -------------------------


@pytest.fixture
def secrets(tmp_path):
    """Files outside the repository a hostile dvc.yaml would show: (folder, its name relative to the repo)."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "m.json").write_text('{"secret": 4242}\n')
    (folder / "p.yaml").write_text("secret: 4242\n")
    (folder / "plot.csv").write_text("x,secret\n1,4242\n")
    return folder


@pytest.mark.parametrize("section, file", [("metrics", "m.json"), ("params", "p.yaml"), ("plots", "plot.csv")])
@pytest.mark.parametrize("spelled", ["ABS", "../secrets"])
def test_top_level_files_outside_the_repository_are_refused(gen, xp, secrets, section, file, spelled):
    """DVC reports these files as not found; xp showed their contents in `metrics show`, `exp show` and plots."""
    path = f"{str(secrets) if spelled == 'ABS' else spelled}/{file}"
    repo = gen({**PIPELINE, "dvc.yaml": f"{section}:\n  - {path}\n" + PIPELINE["dvc.yaml"]})
    says = f"dvc.yaml:2: '{path}' in the top-level `{section}` is outside the repository"
    for command in (("metrics", "show"), ("params", "diff", "--all"), ("plots", "show", "--json"), ("status",)):
        result = xp(*command, cwd=repo, expect=2)
        assert one_line_error(result).startswith(f"error: {says}")
        assert "4242" not in result.stdout
    shown = xp("exp", "show", cwd=repo)  # A table: each row says what is wrong with its revision.
    assert f"warning: workspace: {says}" in shown.stderr and "4242" not in shown.stdout


def test_a_named_plot_reading_a_file_outside_is_refused(gen, xp, secrets):
    repo = gen({**PIPELINE, "dvc.yaml": f"plots:\n  - leak:\n      y:\n        {secrets}/plot.csv: secret\n"
                                        + PIPELINE["dvc.yaml"]})
    result = xp("plots", "show", "--json", cwd=repo, expect=2)
    assert (f"dvc.yaml:2: '{secrets}/plot.csv' in the top-level `plots` is outside the repository"
            in one_line_error(result))


def test_stage_metrics_params_and_plots_outside_are_never_read(gen, xp, secrets):
    """A stage may declare them (DVC's status reports them), but their contents are never shown."""
    stage = (f"stages:\n  leak:\n    cmd: echo\n    params:\n      - {secrets}/p.yaml: [secret]\n"
             f"    metrics:\n      - {secrets}/m.json:\n          cache: false\n")
    repo = gen({"dvc.yaml": stage})
    for command in (("metrics", "show"), ("params", "diff", "--all"), ("exp", "show"), ("exp", "show", "--json"),
                    ("metrics", "show", "--json")):
        result = xp(*command, cwd=repo, expect=None)
        assert "4242" not in result.stdout + result.stderr, command
    assert "is outside the repository: xp does not read it" in xp("metrics", "show", cwd=repo).stderr
    plots = gen({"dvc.yaml": f"stages:\n  leak:\n    cmd: echo\n    plots:\n      - {secrets}/plot.csv:\n"
                             "          cache: false\n"})
    result = xp("plots", "show", "--json", cwd=plots, expect=2)
    assert "4242" not in result.stdout and "is outside the repository" in one_line_error(result)


@pytest.mark.parametrize("out, says", [(".", "is the folder holding dvc.yaml"), ("sub/..", "is the folder holding"),
                                       (".git", "inside git's, DVC's or xp's own folder"),
                                       (".git/hooks", "inside git's"), (".xp", "inside git's"),
                                       (".dvc/config", "inside git's")])
def test_a_stage_output_that_holds_the_project_is_refused(gen, xp, out, says):
    """`outs: [.]` made `xp repro` delete the whole work tree, .git included, before running the stage."""
    repo = gen({"dvc.yaml": f"stages:\n  wipe:\n    cmd: echo hi > x.txt\n    outs: [{out}]\n"})
    line = one_line_error(xp("repro", cwd=repo, expect=2))
    assert line.startswith(f"error: dvc.yaml:4: output '{out}' of stage 'wipe' ") and says in line
    assert (repo / "dvc.yaml").is_file() and (repo / ".git" / "HEAD").is_file()


def test_a_trailer_nested_thousands_deep_is_ignored_not_a_traceback(gen, xp):
    from tests.conftest import git

    repo = gen({"params.yaml": "lr: 1\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    deep = "[" * 5000 + "]" * 5000
    evil = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", f"x\n\nxp-checkpoint: {deep}").strip()
    git(repo, "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/deep", evil)
    result = xp("exp", "show", cwd=repo)
    assert "deep" in result.stdout and "Traceback" not in result.stderr
