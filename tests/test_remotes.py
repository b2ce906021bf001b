"""Remotes (issue 18, first part): DVC's remote configuration, `xp push/fetch/pull` to a folder remote in
DVC 3's layout, experiments that carry their outputs (`exp push`/`exp pull`/`exp apply` on another clone),
checked against DVC 3.67.1 itself on the same remote; corrupt, forged and half-written objects."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyhelper.demo import create
from tests.conftest import GIT_ENV, git
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401 (fixture)


def objects(store: Path) -> dict[str, Path]:
    """md5 (with .dir) → file, of every object in a remote folder."""
    return {p.parent.name + p.name: p for p in (store / "files" / "md5").glob("*/*") if not p.name.startswith(".")}


def clone(source: Path, dest: Path) -> Path:
    git(source.parent, "clone", "-q", str(source), str(dest))
    return dest


@pytest.fixture
def demo(tmp_path, xp) -> Path:
    """The demo project (no .dvc/), reproduced and committed, with a folder remote `store` as the default."""
    repo = create(tmp_path / "a")
    xp("repro", cwd=repo)
    xp("remote", "add", "-d", "store", "../store", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "reproduced, with a remote")
    return repo


def test_remote_commands_write_the_files_dvc_writes(tmp_path, dvc_bin, xp):  # noqa: F811
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for repo in (ours, theirs):
        repo.mkdir()
        git(repo, "init", "-q")
        dvc(dvc_bin, repo, "init", "-q")
    steps = [("remote", "add", "-d", "store", "../store"), ("remote", "add", "s3r", "s3://bucket/path"),
             ("remote", "modify", "s3r", "endpointurl", "http://localhost:9000"),
             ("remote", "modify", "--local", "s3r", "access_key_id", "XYZ"),
             ("remote", "add", "spare", "/mnt/shared/spare"), ("remote", "default", "spare"),
             ("remote", "rename", "spare", "shared"), ("remote", "remove", "store")]
    for step in steps:
        xp(*step, cwd=ours)
        dvc(dvc_bin, theirs, *step)
        for name in ("config", "config.local"):
            mine, dvcs = ours / ".dvc" / name, theirs / ".dvc" / name
            assert mine.exists() == dvcs.exists(), (step, name)
            if dvcs.exists():
                assert mine.read_text() == dvcs.read_text(), (step, name)
    listed = json.loads(xp("remote", "list", "--json", cwd=ours).stdout)
    assert [(r["name"], r["default"]) for r in listed] == [("s3r", False), ("shared", True)]
    assert listed[0]["options"] == {"endpointurl": "http://localhost:9000", "access_key_id": "***"}  # Masked.
    assert xp("remote", "default", cwd=ours).stdout.strip() == "shared"
    # A relative path is kept relative to the config file (as DVC does) and resolved from it.
    sub = ours / "sub"
    sub.mkdir()
    xp("remote", "add", "near", "../../near", cwd=sub)  # From sub/: relative to the cwd, as typed.
    assert "url = ../../near" in (ours / ".dvc" / "config").read_text()
    assert {r["name"]: r["url"] for r in json.loads(xp("remote", "list", "--json", cwd=ours).stdout)}["near"] \
        == str(tmp_path / "near")


def test_bad_remote_input_is_one_line_with_the_fix(demo, xp):
    out = xp("remote", "add", "../evil", "/tmp/x", cwd=demo, expect=2).stderr
    assert "not a remote name" in out and "letters, digits" in out
    assert "already exists" in xp("remote", "add", "store", "/elsewhere", cwd=demo, expect=2).stderr
    out = xp("push", "-r", "nope", cwd=demo, expect=2).stderr
    assert "no remote named 'nope'" in out and "store" in out
    out = xp("remote", "modify", "store", "region", "eu", cwd=demo, expect=2).stderr
    assert "not an option of a local remote" in out
    xp("remote", "add", "cloud", "gs://bucket/x", cwd=demo)
    out = xp("push", "-r", "cloud", cwd=demo, expect=2).stderr
    assert "cannot reach yet" in out and "dvc push" in out, "an honest 'not yet' for the types not built yet"
    (demo / ".xpconfig").write_text("[core\n    remote = store\n")
    out = xp("push", cwd=demo, expect=2).stderr
    assert ".xpconfig:1" in out and "does not parse" in out
    (demo / ".xpconfig").write_text("")
    out = xp("push", cwd=demo, expect=2).stderr
    assert "no default remote" in out and "xp remote add -d" in out


def test_push_then_pull_on_a_fresh_clone_brings_every_output_byte_for_byte(demo, tmp_path, xp):
    first = xp("push", cwd=demo)
    assert "already there" in first.stdout
    store = tmp_path / "store"
    pushed = objects(store)
    assert pushed and all(hashlib.md5(p.read_bytes()).hexdigest() == md5.removesuffix(".dir")
                          for md5, p in pushed.items()), "DVC 3's layout: each object is named by its md5"
    assert xp("push", "--json", cwd=demo).stdout and json.loads(xp("push", "--json", cwd=demo).stdout)["moved"] == 0
    b = clone(demo, tmp_path / "b")
    model = Path("model/model.json")
    assert not (b / model).exists()
    pulled = json.loads(xp("pull", "--json", cwd=b).stdout)
    assert pulled["moved"] == len(pushed) and not pulled["stillMissing"]
    assert (b / model).read_bytes() == (demo / model).read_bytes()
    assert "up to date" in xp("status", cwd=b).stdout.lower() or "Data and pipelines" in xp("status", cwd=b).stdout
    ran = xp("repro", cwd=b).stdout
    assert "Running stage" not in ran, f"nothing to rebuild after a pull: {ran}"


def test_xp_push_is_read_by_dvc_pull_and_dvc_push_by_xp_pull(tmp_path, dvc_bin, xp):  # noqa: F811
    a = create(tmp_path / "a")
    dvc(dvc_bin, a, "init", "-q")
    from pyhelper.core.pipeline.add import add
    from pyhelper.core.project import Project

    add(Project(a), [str(a / "data" / "raw" / "features.csv")])
    xp("repro", cwd=a)
    xp("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=a)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "dvc project")
    xp("push", cwd=a)
    b = clone(a, tmp_path / "b")
    dvc(dvc_bin, b, "pull")
    for path in ("model/model.json", "data/raw/features.csv", "data/prepared"):
        assert (b / path).exists(), path
    assert (b / "model/model.json").read_bytes() == (a / "model/model.json").read_bytes()
    # The other way: DVC pushes new data, xp pulls it.
    (b / "extra").mkdir()
    for i in range(5):
        (b / "extra" / f"{i}.txt").write_text(f"row {i}\n" * (i + 1))
    dvc(dvc_bin, b, "add", "-q", "extra")
    dvc(dvc_bin, b, "push", "-q")
    git(b, "add", "-A")
    git(b, "commit", "-qm", "extra data")
    git(b, "push", "-q", "origin", "HEAD:refs/heads/from-b")
    git(a, "checkout", "-q", "from-b")
    xp("pull", cwd=a)
    assert sorted(p.name for p in (a / "extra").iterdir()) == [f"{i}.txt" for i in range(5)]
    assert (a / "extra" / "4.txt").read_text() == "row 4\n" * 5


def test_a_teammates_experiment_arrives_with_its_model(demo, tmp_path, xp):
    """The issue's story: A runs and pushes; B pulls and applies, and has the model without rebuilding."""
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "big", cwd=demo)
    origin = demo / "origin.git"
    pushed = xp("exp", "push", str(origin), "big", cwd=demo).stdout
    assert "Outputs:" in pushed and "pushed to remote 'store'" in pushed
    b = clone(demo, tmp_path / "b")
    git(b, "remote", "set-url", "origin", str(origin))
    git(b, "fetch", "-q", "origin")
    pulled = xp("exp", "pull", "origin", cwd=b).stdout
    assert "fetched from remote 'store'" in pulled
    applied = xp("exp", "apply", "big", cwd=b)
    assert "no longer in the cache" not in applied.stderr, applied.stderr
    xp("exp", "apply", "big", cwd=demo)
    assert (b / "model/model.json").read_bytes() == (demo / "model/model.json").read_bytes()
    ran = xp("repro", cwd=b).stdout
    assert "Running stage" not in ran, f"B rebuilt what A made: {ran}"


def test_apply_fetches_a_missing_output_from_the_default_remote(demo, tmp_path, xp):
    xp("exp", "run", "-S", "train.lr=0.2", "-n", "mine", cwd=demo)
    xp("exp", "push", str(demo / "origin.git"), cwd=demo)  # Outputs to the remote as well.
    cache = demo / ".xp" / "cache"
    for path in cache.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            path.unlink()
    applied = xp("exp", "apply", "mine", cwd=demo)
    assert "no longer in the cache" not in applied.stderr, applied.stderr
    assert (demo / "model/model.json").is_file()


def test_a_corrupted_object_on_the_remote_is_refused(demo, tmp_path, xp):
    xp("push", cwd=demo)
    b = clone(demo, tmp_path / "b")
    store = tmp_path / "store"
    model_md5 = hashlib.md5((demo / "model/model.json").read_bytes()).hexdigest()
    rotten = objects(store)[model_md5]
    rotten.chmod(0o644)
    rotten.write_bytes(b"{\"weights\": \"not what A trained\"}")
    out = xp("pull", cwd=b, expect=2).stderr
    assert "do not hold what their names say" in out and model_md5 in out
    assert not (b / "model/model.json").exists(), "a corrupt object never reaches the workspace"
    cached = b / ".xp" / "cache" / "files" / "md5" / model_md5[:2] / model_md5[2:]
    assert not cached.exists(), "nor the cache"
    # A forged folder listing that points outside its folder is refused the same way.
    listing = [{"md5": model_md5, "relpath": "../../escaped"}]
    forged = json.dumps(listing, sort_keys=True).encode()
    forged_md5 = hashlib.md5(forged).hexdigest() + ".dir"
    target = store / "files" / "md5" / forged_md5[:2] / forged_md5[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(forged)
    (b / "evil.dvc").write_text(f"outs:\n- md5: {forged_md5}\n  size: 1\n  nfiles: 1\n  hash: md5\n  path: evil\n")
    out = xp("fetch", "evil.dvc", cwd=b, expect=2).stderr
    assert "do not hold what their names say" in out
    assert not (tmp_path / "escaped").exists()


def test_a_push_killed_half_way_leaves_no_half_object_and_finishes_when_run_again(demo, tmp_path, xp):
    big = demo / "big"
    big.mkdir()
    for i in range(400):
        (big / f"{i:03}.bin").write_bytes(os.urandom(64 * 1024))
    xp("add", "big", cwd=demo)
    git(demo, "add", "-A")
    git(demo, "commit", "-qm", "big data")
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "pyhelper", "push", "-j", "2"], cwd=demo,
                            env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(objects(store)) < 20 and proc.poll() is None:
        assert time.monotonic() < deadline, "the push never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = objects(store)
    print(f"killed after {len(partial)} objects")
    assert all(hashlib.md5(p.read_bytes()).hexdigest() == md5.removesuffix(".dir") for md5, p in partial.items()), \
        "every object under its final name is whole"
    again = json.loads(xp("push", "--json", cwd=demo).stdout)
    assert again["moved"] > 0 and not again["failed"]
    b = clone(demo, tmp_path / "b")
    xp("pull", cwd=b)
    assert sorted(p.name for p in (b / "big").iterdir()) == sorted(p.name for p in big.iterdir())
    assert (b / "big" / "399.bin").read_bytes() == (big / "399.bin").read_bytes()


def test_status_c_compares_the_cache_with_the_remote_as_dvc_does(tmp_path, dvc_bin, xp):  # noqa: F811
    a = tmp_path / "a"
    a.mkdir()
    git(a, "init", "-q")
    dvc(dvc_bin, a, "init", "-q")
    for name in ("pushed.txt", "local.txt", "gone.txt"):
        (a / name).write_text(f"{name}\n")
    folder = a / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(bytes([i]) * 100)
    dvc(dvc_bin, a, "add", "-q", "pushed.txt", "gone.txt", "images")
    dvc(dvc_bin, a, "remote", "add", "-d", "store", str(tmp_path / "store"))
    dvc(dvc_bin, a, "push", "-q")
    dvc(dvc_bin, a, "add", "-q", "local.txt")
    gone = hashlib.md5(b"gone.txt\n").hexdigest()
    cached = a / ".dvc" / "cache" / "files" / "md5" / gone[:2] / gone[2:]
    cached.chmod(0o644)
    cached.unlink()
    (a / "lost.txt").write_text("lost\n")
    dvc(dvc_bin, a, "add", "-q", "lost.txt")
    lost = hashlib.md5(b"lost\n").hexdigest()
    (a / ".dvc" / "cache" / "files" / "md5" / lost[:2] / lost[2:]).unlink()
    theirs = json.loads(dvc(dvc_bin, a, "status", "-c", "--json"))
    ours = json.loads(xp("status", "-c", "--json", cwd=a).stdout)
    assert ours == theirs == {"gone.txt": "deleted", "local.txt": "new", "lost.txt": "missing"}
    assert xp("status", "-c", cwd=a).stdout == dvc(dvc_bin, a, "status", "-c")
    xp("push", cwd=a)
    xp("pull", "gone.txt", cwd=a)
    assert json.loads(xp("status", "-c", "--json", cwd=a).stdout) == {"lost.txt": "missing"}


def test_push_all_commits_carries_every_commits_outputs(demo, tmp_path, xp):
    first_model = (demo / "model/model.json").read_bytes()
    xp("repro", "-S", "train.lr=0.07", cwd=demo)
    git(demo, "add", "-A")
    git(demo, "commit", "-qm", "lower lr")
    assert (demo / "model/model.json").read_bytes() != first_model
    only_now = json.loads(xp("push", "--json", cwd=demo).stdout)["moved"]
    everything = json.loads(xp("push", "-A", "--json", cwd=demo).stdout)
    assert everything["moved"] > 0 and everything["already"] >= only_now, "the older commit's outputs went too"
    b = clone(demo, tmp_path / "b")
    git(b, "checkout", "-q", "HEAD~1")
    xp("pull", cwd=b)
    assert (b / "model/model.json").read_bytes() == first_model
    assert "takes no targets" in xp("push", "-A", "model", cwd=demo, expect=2).stderr
    # `pull -A` brings every commit's outputs into the cache and puts the workspace's in place (as DVC).
    c = clone(demo, tmp_path / "c")
    pulled = json.loads(xp("pull", "-A", "--json", cwd=c).stdout)
    assert pulled["moved"] == everything["moved"] + everything["already"] and pulled["checkedOut"]
    git(c, "checkout", "-q", "HEAD~1")
    assert json.loads(xp("pull", "--json", cwd=c).stdout)["moved"] == 0, "the older commit's were there already"
    assert (c / "model/model.json").read_bytes() == first_model


def test_exp_push_rev_and_num_choose_experiments_by_their_commit(demo, tmp_path, xp):
    xp("exp", "run", "-S", "train.lr=0.2", "-n", "older", cwd=demo)
    git(demo, "commit", "-q", "--allow-empty", "-m", "next")
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "newer", cwd=demo)
    origin = tmp_path / "o.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))

    def on_origin() -> set[str]:
        return {line.rsplit("/", 1)[1] for line in git(origin, "for-each-ref", "--format=%(refname)",
                                                          "refs/exps/").split()}

    xp("exp", "push", str(origin), "--rev", "HEAD", cwd=demo)
    assert on_origin() == {"newer"}
    xp("exp", "push", str(origin), "-n", "2", cwd=demo)
    assert on_origin() == {"newer", "older"}
    assert "unknown revision" in xp("exp", "push", str(origin), "--rev", "nope", cwd=demo, expect=2).stderr
    # A teammate on the same two commits pulls only what belongs to the commit they are on.
    b = clone(demo, tmp_path / "b")

    def here() -> set[str]:
        return {line.rsplit("/", 1)[1] for line in git(b, "for-each-ref", "--format=%(refname)",
                                                          "refs/exps/").split()}

    xp("exp", "pull", str(origin), "--rev", "HEAD~1", "--no-cache", cwd=b)
    assert here() == {"older"}
    xp("exp", "pull", str(origin), "-n", "2", "--no-cache", cwd=b)
    assert here() == {"newer", "older"}
    git(b, "commit", "-q", "--allow-empty", "-m", "mine")
    refused = xp("exp", "pull", str(origin), "--rev", "HEAD", cwd=b, expect=2).stderr
    assert "no experiments of those commits" in refused and "leave out --rev" in refused


def test_remote_secrets_are_never_printed(demo, xp):
    token = "s3cr3t-T0KEN"
    shown = xp("remote", "add", "vault", f"https://user:{token}@host.example/store", cwd=demo)
    xp("remote", "add", "box", "ssh://host.example/store", cwd=demo)
    shown2 = xp("remote", "modify", "--local", "box", "password", token, cwd=demo)
    listed = xp("remote", "list", cwd=demo)
    as_json = xp("remote", "list", "--json", cwd=demo)
    refused = xp("push", "-r", "vault", cwd=demo, expect=2)
    for out in (shown, shown2, listed, as_json, refused):
        assert token not in out.stdout + out.stderr, out
    assert {r["name"]: r["options"] for r in json.loads(as_json.stdout)}["box"] == {"password": "***"}


def test_push_chooses_what_dvc_push_chooses(tmp_path, dvc_bin, xp):  # noqa: F811
    """Stage targets, -d, --glob, -R, -a, -T, -A: the same objects reach the remote as with DVC's push."""
    repo = tmp_path / "p"
    (repo / "sub").mkdir(parents=True)
    git(repo, "init", "-q")
    dvc(dvc_bin, repo, "init", "-q")
    (repo / "raw.txt").write_text("raw 1\n")
    dvc(dvc_bin, repo, "add", "-q", "raw.txt")
    (repo / "dvc.yaml").write_text(
        "stages:\n"
        "  prep: {cmd: 'cp raw.txt prep.txt && echo prep >> prep.txt', deps: [raw.txt], outs: [prep.txt]}\n"
        "  train: {cmd: 'cp prep.txt model.txt && echo model >> model.txt', deps: [prep.txt], outs: [model.txt]}\n"
        "  other: {cmd: 'echo other > other.txt', outs: [other.txt]}\n")
    (repo / "sub" / "dvc.yaml").write_text("stages:\n  inner: {cmd: 'echo inner > inner.txt', outs: [inner.txt]}\n")
    dvc(dvc_bin, repo, "repro", "-q", "-P")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "tag", "v1")
    (repo / "raw.txt").write_text("raw 2\n")
    dvc(dvc_bin, repo, "add", "-q", "raw.txt")
    dvc(dvc_bin, repo, "repro", "-q", "-P")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    git(repo, "checkout", "-qb", "side")
    (repo / "raw.txt").write_text("raw 3\n")
    dvc(dvc_bin, repo, "add", "-q", "raw.txt")
    dvc(dvc_bin, repo, "repro", "-q", "-P")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "three, on a side branch")
    git(repo, "checkout", "-q", "-")
    dvc(dvc_bin, repo, "checkout", "-q")
    choices = [["train"], ["train", "-d"], ["model.txt", "-d"], ["--glob", "m*.txt"], ["--glob", "*.txt"],
               ["--glob", "**/inner.txt"], ["-R", "sub"], ["-a"], ["-T"], ["-A"]]
    # DVC 3.67.1's push -a/-T/-A looks up the default remote after pushing even with -r: give it one.
    dvc(dvc_bin, repo, "remote", "add", "--local", "-d", "unused", "../unused")
    for i, flags in enumerate(choices):
        dvc(dvc_bin, repo, "remote", "add", "--local", f"d{i}", f"../d{i}")  # Every revision sees it.
        dvc(dvc_bin, repo, "remote", "add", "--local", f"x{i}", f"../x{i}")
        dvc(dvc_bin, repo, "push", "-q", "-r", f"d{i}", *flags)
        xp("push", "-r", f"x{i}", *flags, cwd=repo)
        theirs, ours = set(objects(tmp_path / f"d{i}")), set(objects(tmp_path / f"x{i}"))
        assert ours == theirs and ours, (flags, sorted(ours), sorted(theirs))
    # `status -c` chooses the same way (-r alone means -c, as in DVC).
    for flags in (["-r", "d0"], ["-r", "d0", "-A"], ["-c", "-r", "d1", "-T"], ["-r", "d0", "train", "-d"],
                  ["-r", "d6", "-a"]):
        theirs = json.loads(dvc(dvc_bin, repo, "status", "--json", *flags))
        ours = json.loads(xp("status", "--json", *flags, cwd=repo).stdout)
        assert ours == theirs, (flags, ours, theirs)
    assert "only means something with -c" in xp("status", "-A", cwd=repo, expect=2).stderr
    assert "need targets" in xp("push", "-d", cwd=repo, expect=2).stderr
    assert "takes no targets" in xp("push", "-T", "train", cwd=repo, expect=2).stderr
    assert "quote a pattern" in xp("push", "--glob", "nothing*", cwd=repo, expect=2).stderr


def test_repro_pull_brings_what_the_run_needs_first(demo, tmp_path, xp):
    """DVC's `repro --pull`: on a fresh clone nothing reruns; a run a teammate pushed to the run-cache is
    restored, not run; `exp run --pull` the same."""
    xp("push", cwd=demo)
    xp("repro", "-S", "train.lr=0.3", cwd=demo)
    xp("push", "--run-cache", cwd=demo)
    b = clone(demo, tmp_path / "b")
    assert not (b / "model/model.json").exists()
    out = xp("repro", "--pull", cwd=b).stdout
    assert "missing output(s) put in place" in out and "Running stage" not in out, out
    assert (b / "model/model.json").is_file()
    ran = xp("repro", "--pull", "-S", "train.lr=0.3", cwd=b).stdout
    assert "Running stage 'train'" not in ran and "restored" in ran.lower(), ran
    assert (b / "model/model.json").read_bytes() == (demo / "model/model.json").read_bytes()
    c = clone(demo, tmp_path / "c")
    ran = xp("exp", "run", "--pull", "-S", "train.lr=0.3", "-n", "same", cwd=c).stdout
    assert "Running stage 'train'" not in ran, ran
    xp("remote", "default", "--unset", cwd=c)
    refused = xp("repro", "--pull", cwd=c, expect=2).stderr
    assert "needs a default remote" in refused and "xp remote add -d" in refused


def test_a_big_file_travels_whole_and_a_flipped_byte_in_it_is_refused(demo, tmp_path, xp):
    """Above 32 MiB a download is hashed while the kernel copies it: the bytes still arrive whole, and one
    byte changed in the middle of the remote's copy is still caught before the cache."""
    blob = os.urandom(1 << 20) * 40 + b"tail"  # 40 MiB and a bit: several copy steps, an odd last one.
    (demo / "weights.bin").write_bytes(blob)
    xp("add", "weights.bin", cwd=demo)
    git(demo, "add", "-A")
    git(demo, "commit", "-qm", "big weights")
    xp("push", cwd=demo)
    b = clone(demo, tmp_path / "b")
    xp("pull", cwd=b)
    assert (b / "weights.bin").read_bytes() == blob
    md5 = hashlib.md5(blob).hexdigest()
    rotten = objects(tmp_path / "store")[md5]
    rotten.chmod(0o644)
    with open(rotten, "r+b") as handle:
        handle.seek(len(blob) // 2 + 12345)
        handle.write(b"\x00" if blob[len(blob) // 2 + 12345] else b"\x01")
    c = clone(demo, tmp_path / "c")
    refused = xp("pull", cwd=c, expect=2).stderr
    assert "do not hold what their names say" in refused and md5 in refused
    assert not (c / "weights.bin").exists()
