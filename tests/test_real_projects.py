# ruff: noqa: F811  (dvc_bin is a pytest fixture imported from test_dvc_interop)
"""Real DVC project shapes open and answer as DVC 3.67.1 answers on them: pipelines in subfolders,
monorepos, `.dvc`-tracked data (present, missing, in the cache only), mappings in `cmd`, callback
stages, big `foreach` stages. Each test runs DVC itself on the same project and compares."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests import real_projects
from tests.conftest import git
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401  (the fixture)

pytestmark = pytest.mark.dvc


def _init(repo: Path, dvc_bin: str, *, subdirs: tuple[str, ...] = ()) -> None:
    git(repo, "init", "-q", "-b", "main")
    for sub in subdirs or (".",):
        dvc(dvc_bin, repo / sub, "init", "-q", *(["--subdir"] if sub != "." else []))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")


def _same_status(repo: Path, dvc_bin: str, xp, cwd: Path | None = None) -> dict:
    here = cwd or repo
    ours = json.loads(xp("status", "--json", cwd=here).stdout)
    theirs = json.loads(dvc(dvc_bin, here, "status", "--json"))
    assert ours == theirs
    return ours


def _dvc_dry(dvc_bin: str, repo: Path) -> list[str]:
    out = dvc(dvc_bin, repo, "repro", "--dry")
    return re.findall(r"Running stage '([^']+)'", out)


def test_pipelines_in_subfolders_are_collected_and_addressed_as_dvc_does(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.subfolder_pipelines(repo)
    _init(repo, dvc_bin)

    status = _same_status(repo, dvc_bin, xp)
    assert set(status) == {"report", "pipelines/prepare/dvc.yaml:split", "pipelines/train/dvc.yaml:fit"}

    out = xp("repro", cwd=repo).stdout
    # The mapping in `cmd` unpacks into arguments exactly as DVC unpacks it.
    assert "> python fit.py --epochs 3 --lr 0.01 --shuffle --layers 8 4" in out
    assert (repo / "report.txt").read_text() == "--epochs 3 --lr 0.01 --shuffle --layers 8 4"
    # Each dvc.yaml has its own dvc.lock, and DVC finds all of them up to date.
    for lock in ("dvc.lock", "pipelines/prepare/dvc.lock", "pipelines/train/dvc.lock"):
        assert (repo / lock).is_file(), lock
    assert "Data and pipelines are up to date." in dvc(dvc_bin, repo, "status")
    assert _same_status(repo, dvc_bin, xp) == {}

    # The same run gives the same locks in both tools.
    locks = {p: (repo / p).read_text() for p in ("dvc.lock", "pipelines/prepare/dvc.lock", "pipelines/train/dvc.lock")}
    dvc(dvc_bin, repo, "repro", "-f")
    assert {p: (repo / p).read_text() for p in locks} == locks

    # A change in the subfolder's params file is seen by both, and by a target written as DVC writes it.
    (repo / "pipelines/train/config.yaml").write_text(
        "fit:\n  epochs: 4\n  lr: 0.01\n  shuffle: true\n  layers: [8, 4]\n")
    status = _same_status(repo, dvc_bin, xp)
    assert status["pipelines/train/dvc.yaml:fit"] == [
        {"changed deps": {"pipelines/train/config.yaml": {"fit": "modified"}}}, "changed command"]
    # `repro --dry`: what DVC would run, and (unlike DVC, which judges each stage on today's files)
    # the stages downstream whose inputs that run changes.
    would = json.loads(xp("repro", "--dry", "--json", cwd=repo).stdout)["wouldRun"]
    assert _dvc_dry(dvc_bin, repo) == ["pipelines/train/dvc.yaml:fit"]
    assert would == ["pipelines/train/dvc.yaml:fit", "report"]
    out = xp("repro", "pipelines/train/dvc.yaml:fit", cwd=repo).stdout
    assert "Running stage 'pipelines/train/dvc.yaml:fit'" in out and "report" not in out

    # Commands work from any subfolder of the project.
    sub = repo / "pipelines" / "prepare"
    assert "pipelines/train/dvc.yaml:fit" not in xp("status", cwd=sub).stdout
    assert "report:" in xp("status", cwd=sub).stdout


def test_tracked_data_present_missing_and_in_the_cache_only(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.tracked_data(repo)
    _init(repo, dvc_bin)
    dvc(dvc_bin, repo, "commit", "-q", "-f", "data/raw.csv.dvc", "data/images.dvc")  # Into DVC's cache.

    status = _same_status(repo, dvc_bin, xp)
    assert status["notify"] == ["always changed"]
    assert "data/raw.csv.dvc" not in status

    xp("repro", cwd=repo)
    assert (repo / "features.txt").read_text() == "2"
    assert _same_status(repo, dvc_bin, xp) == {"notify": ["always changed"]}

    # Deleted from the workspace but still in the cache: reported as DVC reports it, and
    # `repro` puts the tracked data back from the cache instead of failing.
    (repo / "data" / "raw.csv").unlink()
    status = _same_status(repo, dvc_bin, xp)
    assert status["data/raw.csv.dvc"] == [{"changed outs": {"data/raw.csv": "deleted"}}]
    assert status["featurize"] == [{"changed deps": {"data/raw.csv": "deleted"}}]
    out = xp("repro", cwd=repo).stdout
    assert "Checked out data/raw.csv from the cache (tracked by data/raw.csv.dvc)" in out
    assert (repo / "data" / "raw.csv").read_text() == "x,y\n1,2\n3,4\n"

    # After a clone: neither in the workspace nor in the cache. Status answers (exit 0), DVC's way.
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data" / "images")
    status = _same_status(repo, dvc_bin, xp)
    assert status["data/images.dvc"] == [{"changed outs": {"data/images": "not in cache"}}]
    assert status["featurize"] == [{"changed deps": {"data/images": "deleted"}},
                                   {"changed outs": {"features.txt": "not in cache"}}]
    text = xp("status", cwd=repo).stdout
    assert "data/images not in cache" in text

    # `repro` refuses only the stage that needs the data, naming it and how to get it; the rest runs.
    result = xp("repro", cwd=repo, expect=2)
    assert "Running stage 'notify'" in result.stdout
    assert "dependency 'data/images' of stage 'featurize' does not exist" in result.stderr
    assert "dvc pull data/images.dvc" in result.stderr


def test_monorepo_projects_each_answer_for_themselves(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.monorepo(repo)
    _init(repo, dvc_bin, subdirs=("project-1", "project-2", "project-3"))

    one = repo / "project-1"
    status = _same_status(repo, dvc_bin, xp, cwd=one)
    assert list(status) == ["train"], "only project-1's stage, addressed from its own root"
    out = xp("repro", cwd=one).stdout
    assert "Running stage 'train'" in out
    assert (one / "model-project-1.bin").is_file() and not (repo / "project-2" / "model-project-2.bin").exists()
    assert (one / "dvc.lock").is_file() and not (repo / "dvc.lock").exists()
    # xp's output went into project-1's own DVC cache, where DVC finds it.
    assert "Data and pipelines are up to date." in dvc(dvc_bin, one, "status")
    assert _same_status(repo, dvc_bin, xp, cwd=one) == {}
    assert "train" in _same_status(repo, dvc_bin, xp, cwd=repo / "project-2")
    # From a folder inside project-3, project-3 is the project.
    (repo / "project-3" / "src").mkdir()
    assert "train:" in xp("status", cwd=repo / "project-3" / "src").stdout


def test_a_big_foreach_stage_matches_dvc(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.big_foreach(repo, items=1200)
    _init(repo, dvc_bin)
    status = _same_status(repo, dvc_bin, xp)
    assert len(status) == 1200 and "shard@s0000" in status
    out = xp("status", "shard@s0007", "--json", cwd=repo).stdout
    assert list(json.loads(out)) == ["shard@s0007"]
    assert len(json.loads(xp("status", "shard", "--json", cwd=repo).stdout)) == 1200, "a foreach group by its name"


def test_dvcignore_hides_pipelines_and_nested_projects_are_separate(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.subfolder_pipelines(repo)
    (repo / ".dvcignore").write_text("# scratch pipelines\npipelines/prepare/\n")
    (repo / "vendor" / "other").mkdir(parents=True)
    (repo / "vendor" / "other" / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo x\n")
    (repo / "data" / "train.csv").write_text("a,b\n")
    _init(repo, dvc_bin, subdirs=(".", "vendor/other"))
    status = _same_status(repo, dvc_bin, xp)
    assert "pipelines/prepare/dvc.yaml:split" not in status
    assert not any(k.startswith("vendor/") for k in status)


def test_unknown_target_names_the_stages(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.subfolder_pipelines(repo)
    _init(repo, dvc_bin)
    result = xp("status", "fitt", cwd=repo, expect=2)
    assert "unknown stage 'fitt'" in result.stderr and "pipelines/train/dvc.yaml:fit" in result.stderr


def test_experiments_run_show_and_apply_in_subfolder_pipelines(tmp_path, xp):
    repo = real_projects.reproduced_subfolder_project(tmp_path / "repo", xp)
    xp("exp", "run", "--temp", "-S", "pipelines/train/config.yaml:fit.epochs=7", "-n", "e7", cwd=repo)
    rows = json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)
    text = json.dumps(rows)
    assert "pipelines/train/config.yaml" in text and "e7" in text
    xp("exp", "apply", "e7", cwd=repo)
    assert (repo / "report.txt").read_text() == "--epochs 7 --lr 0.01 --shuffle --layers 8 4"
    assert "epochs: 7" in (repo / "pipelines/train/config.yaml").read_text()


def test_xp_add_writes_what_dvc_add_writes(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    (repo / "data" / "images" / "sub").mkdir(parents=True)
    _init(repo, dvc_bin)
    (repo / "data" / "raw.csv").write_text("a,b\n1,2\n")
    (repo / "data" / "images" / "1.txt").write_text("one\n")
    (repo / "data" / "images" / "sub" / "2.txt").write_text("two\n")
    out = xp("add", "data/raw.csv", "data/images", cwd=repo).stdout
    assert "git add data/raw.csv.dvc data/.gitignore data/images.dvc" in out
    ours = {p: (repo / p).read_text() for p in ("data/raw.csv.dvc", "data/images.dvc", "data/.gitignore")}
    for p in ours:
        (repo / p).unlink()
    dvc(dvc_bin, repo, "add", "-q", "data/raw.csv", "data/images")
    assert {p: (repo / p).read_text() for p in ours} == ours
    assert "Data and pipelines are up to date." in dvc(dvc_bin, repo, "status")
    # What is already tracked by git, or outside the project, is refused with the fix.
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "code.py")
    assert "git rm -r --cached" in xp("add", "code.py", cwd=repo, expect=2).stderr
    assert "outside the repository" in xp("add", str(tmp_path), cwd=repo, expect=2).stderr


@pytest.mark.parametrize("text, says", [
    ("outs:\n- md5: 123\n  path: raw.csv\n", "data/raw.csv.dvc:2: the md5 of 'raw.csv' is not a hash"),
    ("outs:\n- path: ../../outside.csv\n  md5: 0123456789abcdef0123456789abcdef\n",
     "is outside the repository"),
    ("outs: [oops\n", "data/raw.csv.dvc:1: malformed YAML"),
    ("stages: {}\n", "data/raw.csv.dvc:1: a .dvc file has an unknown key 'stages'"),
])
def test_a_broken_dvc_file_is_one_line_naming_it(tmp_path, xp, text, says):
    repo = tmp_path / "repo"
    real_projects.tracked_data(repo)
    (repo / "data" / "raw.csv.dvc").write_text(text)
    git(repo, "init", "-q", "-b", "main")
    result = xp("status", cwd=repo, expect=2)
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_cycle_across_two_files_names_the_file(tmp_path, xp):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text("stages:\n  a:\n    cmd: cp b/y.txt x.txt\n    deps: [b/y.txt]\n    outs: [x.txt]\n")
    (repo / "b").mkdir()
    (repo / "b" / "dvc.yaml").write_text("stages:\n  b:\n    cmd: cp ../x.txt y.txt\n    deps: [../x.txt]\n"
                                         "    outs: [y.txt]\n")
    git(repo, "init", "-q", "-b", "main")
    result = xp("status", cwd=repo, expect=2)
    assert "the pipeline has a cycle" in result.stderr and "b/dvc.yaml:b" in result.stderr


@pytest.mark.parametrize("body, says", [
    ("    outs:\n      - model.pt:\n          checkpoint: true\n", "unknown key 'checkpoint'"),
    ("    live:\n      logs: {}\n", "unknown key 'live'"),
])
def test_keys_dvc_3_rejects_are_rejected_in_one_line(tmp_path, xp, body, says):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n" + body)
    git(repo, "init", "-q", "-b", "main")
    result = xp("status", cwd=repo, expect=2)
    assert says in result.stderr and result.stderr.startswith("error: dvc.yaml:")


def _reproduced_demo(tmp_path: Path, dvc_bin: str, xp) -> Path:
    """The demo project, `dvc init`-ed, reproduced by xp and committed."""
    from pyhelper.demo import create

    repo = create(tmp_path / "demo")
    dvc(dvc_bin, repo, "init", "-q")
    xp("repro", "-q", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    return repo


def test_params_and_metrics_json_are_dvcs(tmp_path, dvc_bin, xp):
    repo = _reproduced_demo(tmp_path, dvc_bin, xp)
    text = (repo / "params.yaml").read_text().replace("epochs: 10", "epochs: 12").replace("lr: 0.05", "lr: fast")
    (repo / "params.yaml").write_text(text + "extra:\n  unused: 5\n  items: [1]\n")
    metrics = json.loads((repo / "metrics.json").read_text())
    metrics.update({"name": "run", "hist": [1, 2], "flag": True, "accuracy": 0.9, "empty": {}})
    (repo / "metrics.json").write_text(json.dumps(metrics))
    git(repo, "tag", "v1", "HEAD~1")
    for args in (["metrics", "show", "-a"], ["metrics", "show", "-T"], ["metrics", "show", "-A"]):
        ours = json.loads(xp(*args, "--json", cwd=repo).stdout)
        assert ours == json.loads(dvc(dvc_bin, repo, *args, "--json")), args
    for args in (["-T"], ["-A"], ["-a"]):
        ours = [(r["rev"], r["name"]) for r in json.loads(xp("exp", "show", *args, "--json", cwd=repo).stdout)]
        theirs = [(r["rev"], r["name"]) for r in json.loads(dvc(dvc_bin, repo, "exp", "show", *args, "--json"))]
        assert ours == theirs, args
    for args in (["params", "diff"], ["params", "diff", "--all"], ["params", "diff", "--deps"],
                 ["params", "diff", "--targets", "params.yaml"], ["metrics", "show"], ["metrics", "diff"],
                 ["metrics", "diff", "--all"], ["metrics", "show", "metrics.json"]):
        ours = json.loads(xp(*args, "--json", cwd=repo).stdout)
        theirs = json.loads(dvc(dvc_bin, repo, *args, "--json"))
        assert ours == theirs, args


def _dot(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    nodes = set(re.findall(r'^"([^"]+)";$', text, re.M))
    edges = set(re.findall(r'^"([^"]+)" -> "([^"]+)";$', text, re.M))
    return nodes, edges


def _mermaid(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    labels = dict(re.findall(r'^\t(node\d+)\["([^"]+)"\]$', text, re.M))
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"^\t(node\d+)-->(node\d+)$", text, re.M)}
    return set(labels.values()), edges


@pytest.mark.parametrize("shape", ["subfolders", "tracked"])
def test_dag_draws_the_graph_dvc_draws(tmp_path, dvc_bin, xp, shape):
    repo = tmp_path / "repo"
    if shape == "subfolders":
        real_projects.subfolder_pipelines(repo)
        target = "pipelines/train/dvc.yaml:fit"
    else:
        real_projects.tracked_data(repo)
        target = "featurize"
    _init(repo, dvc_bin)
    for extra in ([], ["--outs"], [target], [target, "--full"]):
        ours = _dot(xp("dag", "--dot", *extra, cwd=repo).stdout)
        theirs = _dot(dvc(dvc_bin, repo, "dag", "--dot", *extra))
        assert ours == theirs, extra
        assert ours[0], "the graph has nodes"
    assert _mermaid(xp("dag", "--mermaid", cwd=repo).stdout) == _mermaid(dvc(dvc_bin, repo, "dag", "--mermaid"))
    md = xp("dag", "--md", cwd=repo).stdout
    assert md.startswith("```mermaid\nflowchart TD\n") and md.endswith("```\n")
    assert target in xp("dag", cwd=repo).stdout


def test_stage_add_and_list_write_and_print_what_dvc_does(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    real_projects.subfolder_pipelines(repo)  # Its root dvc.yaml replaces tracked_data's; the .dvc files stay.
    real_projects.tracked_data(repo)
    real_projects.subfolder_pipelines(repo)
    _init(repo, dvc_bin)
    for args in ([], ["--name-only"], ["pipelines/train/dvc.yaml"]):
        assert xp("stage", "list", *args, cwd=repo).stdout == dvc(dvc_bin, repo, "stage", "list", *args)
    ours = sorted(xp("stage", "list", "--all", cwd=repo).stdout.splitlines())
    assert ours == sorted(dvc(dvc_bin, repo, "stage", "list", "--all").splitlines())

    original = (repo / "dvc.yaml").read_text()
    args = ["-n", "evaluate", "-d", "src/eval.py", "-d", "features.txt", "-o", "out/model.bin",
            "-p", "train.lr,seed", "-p", "other.yaml:alpha", "-M", "scores.json", "--plots-no-cache", "roc.csv",
            "--outs-persist", "state/", "python", "src/eval.py", "--name", "a b"]
    xp("stage", "add", *args, cwd=repo)
    ours = (repo / "dvc.yaml").read_text()
    (repo / "dvc.yaml").write_text(original)
    dvc(dvc_bin, repo, "stage", "add", "-q", *args)
    assert ours == (repo / "dvc.yaml").read_text()

    # A name that exists, or an output another stage writes, leaves the file as it was.
    before = (repo / "dvc.yaml").read_text()
    assert "already exists" in xp("stage", "add", "-n", "evaluate", "echo", cwd=repo, expect=2).stderr
    result = xp("stage", "add", "-n", "other", "-o", "report.txt", "echo", cwd=repo, expect=2)
    assert "both produce 'report.txt'" in result.stderr
    assert "invalid stage name" in xp("stage", "add", "-n", "a/b", "echo", cwd=repo, expect=2).stderr
    assert (repo / "dvc.yaml").read_text() == before


def test_a_dvc_2_lock_keeps_the_entries_of_stages_that_did_not_run(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(
        "stages:\n  a:\n    cmd: echo a > a.txt\n    deps: [a.in]\n    outs: [a.txt]\n"
        "  b:\n    cmd: echo b > b.txt\n    deps: [b.in]\n    params: [lr]\n    outs: [b.txt]\n")
    (repo / "a.in").write_text("1\n")
    (repo / "b.in").write_text("1\n")
    (repo / "params.yaml").write_text("lr: 0.1\n")
    _init(repo, dvc_bin)
    dvc(dvc_bin, repo, "repro", "-q")
    # DVC 2.x wrote no `hash: md5` lines (its md5 is of the text with Windows line ends made Unix's).
    old = "".join(line for line in (repo / "dvc.lock").read_text().splitlines(keepends=True)
                  if line.strip() != "hash: md5")
    (repo / "dvc.lock").write_text(old)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a DVC 2 lock")
    (repo / "b.in").write_text("2\n")
    assert json.loads(xp("status", "--json", cwd=repo).stdout) == json.loads(dvc(dvc_bin, repo, "status", "--json"))
    xp("repro", cwd=repo)
    by_xp = (repo / "dvc.lock").read_text()
    git(repo, "checkout", "-q", "--", "dvc.lock")
    dvc(dvc_bin, repo, "repro", "-q")
    by_dvc = (repo / "dvc.lock").read_text()
    assert by_xp == by_dvc, f"the same lock as DVC 3.67.1 writes:\n{by_xp}\n---\n{by_dvc}"
    entry_a = old.split("  b:")[0]
    assert entry_a in by_xp, "stage a did not run: its DVC 2 entry stays byte for byte"


def test_dvc_2_data_with_windows_line_ends_in_the_old_cache_layout(tmp_path, dvc_bin, xp):
    import hashlib

    repo = tmp_path / "repo"
    repo.mkdir()
    text = b"x,y\r\n1,2\r\n"
    (repo / "data.csv").write_bytes(text)
    legacy = hashlib.md5(text.replace(b"\r\n", b"\n")).hexdigest()  # DVC 2's md5-dos2unix.
    (repo / "data.csv.dvc").write_text(f"outs:\n- md5: {legacy}\n  size: {len(text)}\n  path: data.csv\n")
    (repo / ".gitignore").write_text("/data.csv\n")
    (repo / "dvc.yaml").write_text("stages:\n  count:\n    cmd: wc -l < data.csv > n.txt\n    deps: [data.csv]\n"
                                   "    outs: [n.txt]\n")
    _init(repo, dvc_bin)
    old = repo / ".dvc" / "cache" / legacy[:2] / legacy[2:]
    old.parent.mkdir(parents=True)
    old.write_bytes(text)  # DVC 2 kept its objects here, byte for byte.
    status = _same_status(repo, dvc_bin, xp)
    assert "data.csv.dvc" not in status, "the CRLF file matches its DVC 2 hash, and its object is found"
    (repo / "data.csv").unlink()
    assert _same_status(repo, dvc_bin, xp)["data.csv.dvc"] == [{"changed outs": {"data.csv": "deleted"}}]
    xp("repro", cwd=repo)
    assert (repo / "data.csv").read_bytes() == text, "checked out of the old layout as it was"
    assert old.read_bytes() == text, "DVC 2's object is left alone"


def test_dvcignore_leaves_files_out_of_a_folder_dependency(tmp_path, dvc_bin, xp):
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "raw.csv").write_text("1\n")
    (repo / "data" / "keep.csv").write_text("2\n")
    (repo / "dvc.yaml").write_text("stages:\n  s:\n    cmd: cat data/raw.csv > o.txt\n    deps: [data/raw.csv]\n"
                                   "    outs: [o.txt]\n  t:\n    cmd: ls data > l.txt\n    deps: [data]\n"
                                   "    outs: [l.txt]\n")
    _init(repo, dvc_bin)
    xp("repro", cwd=repo)
    assert _same_status(repo, dvc_bin, xp) == {}
    (repo / ".dvcignore").write_text("data/raw.csv\n")
    assert _same_status(repo, dvc_bin, xp) == {"t": [{"changed deps": {"data": "modified"}}]}
    xp("repro", cwd=repo)
    assert _same_status(repo, dvc_bin, xp) == {}
    assert "Data and pipelines are up to date." in dvc(dvc_bin, repo, "status")


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server over tmp_path/srv: plain (Last-Modified only, as `python -m http.server`) and,
    under /etag/, one that sends an ETag of the file's content (as most real servers do)."""
    import hashlib
    import http.server
    import threading

    root = tmp_path / "srv"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # Quiet.
            pass

        def send_head(self):
            if self.path.startswith("/etag/"):
                self.path = self.path[len("/etag"):]
                path = root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return None
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.md5(data).hexdigest()}"')
                self.end_headers()
                import io

                return io.BytesIO(data)
            return super().send_head()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("kind", ["last-modified", "etag"])
def test_url_dependencies_are_checked_as_dvc_checks_them(tmp_path, dvc_bin, xp, http_server, kind):
    import os

    srv, base = http_server
    (srv / "wine.data").write_text("a,b\n")
    url = f"{base}/etag/wine.data" if kind == "etag" else f"{base}/wine.data"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(f"stages:\n  get:\n    cmd: echo got > got.txt\n    deps: [{url}]\n"
                                   "    outs: [got.txt]\n")
    _init(repo, dvc_bin)
    xp("repro", cwd=repo)
    ours = (repo / "dvc.lock").read_text()
    assert f"path: {url}" in ours and "checksum:" in ours
    assert _same_status(repo, dvc_bin, xp) == {}
    dvc(dvc_bin, repo, "repro", "-f", "-q")
    assert (repo / "dvc.lock").read_text() == ours, "DVC records the same checksum"
    assert "Stage 'get' didn't change" in xp("repro", cwd=repo).stdout

    (srv / "wine.data").write_text("a,b\n1,2\n")
    stamp = (srv / "wine.data").stat().st_mtime + 10
    os.utime(srv / "wine.data", (stamp, stamp))
    assert _same_status(repo, dvc_bin, xp) == {"get": [{"changed deps": {url: "modified"}}]}
    assert "Running stage 'get'" in xp("repro", cwd=repo).stdout

    # Gone from the server: reported, and the stage alone is refused with the reason.
    (srv / "wine.data").unlink()
    assert json.loads(xp("status", "--json", cwd=repo).stdout) == {"get": [{"changed deps": {url: "deleted"}}]}
    result = xp("repro", cwd=repo, expect=2)
    assert f"dependency '{url}' of stage 'get' could not be checked" in result.stderr and "404" in result.stderr


def test_other_url_schemes_are_explained_not_read_as_paths(tmp_path, xp):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text("stages:\n  get:\n    cmd: echo got > got.txt\n    deps: [s3://bucket/wine.data]\n"
                                   "    outs: [got.txt]\n")
    git(repo, "init", "-q", "-b", "main")
    assert "xp does not read s3:// dependencies yet" in xp("status", cwd=repo).stdout
    result = xp("repro", cwd=repo, expect=2)
    assert "s3://bucket/wine.data" in result.stderr and "dvc repro" in result.stderr


def test_plots_of_a_subfolder_pipeline(tmp_path, xp):
    repo = tmp_path / "repo"
    (repo / "pipelines" / "train").mkdir(parents=True)
    (repo / "pipelines/train/dvc.yaml").write_text(
        "stages:\n  fit:\n    cmd: python fit.py\n    deps: [fit.py]\n    params: [lr]\n"
        "    plots:\n      - curve.csv:\n          x: step\n"
        "plots:\n  - acc.json:\n      x: step\n      y: acc\n")
    (repo / "pipelines/train/params.yaml").write_text("lr: 1\n")
    (repo / "pipelines/train/fit.py").write_text(
        "import json\nlr = float(open('params.yaml').read().split(':')[1])\n"
        "open('curve.csv', 'w').write('step,loss\\n' + ''.join(f'{i},{lr / (i + 1)}\\n' for i in range(3)))\n"
        "json.dump([{'step': i, 'acc': lr * i} for i in range(3)], open('acc.json', 'w'))\n")
    git(repo, "init", "-q", "-b", "main")
    xp("repro", "-q", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fit")
    assert "curve.csv" not in git(repo, "ls-files"), "the stage's plot is cached, not in git"
    xp("exp", "run", "--temp", "-n", "two", "-S", "pipelines/train/params.yaml:lr=2", cwd=repo)
    shown = json.loads(xp("plots", "diff", "HEAD", "two", "--xp-json", cwd=repo).stdout)
    ids = {p["id"] for p in shown["plots"]}
    assert {"pipelines/train/curve.csv", "pipelines/train/acc.json"} <= ids, ids
    curve = next(p for p in shown["plots"] if p["id"] == "pipelines/train/curve.csv")
    assert len(curve["revisions"]) == 2, "both revisions' cached curves were read through their dvc.lock"
    assert not shown["errors"], shown["errors"]


def test_exp_show_json_is_dvcs(tmp_path, dvc_bin, xp):
    repo = _reproduced_demo(tmp_path, dvc_bin, xp)
    # Two experiments, each a chain of checkpoint commits (the demo's training logs a checkpoint per epoch).
    xp("exp", "run", "--temp", "-n", "fast", "-S", "train.lr=0.2", "-S", "train.epochs=3", cwd=repo)
    xp("exp", "run", "--temp", "-n", "wide", "-S", "model.hidden=16", "-S", "train.epochs=2", cwd=repo)

    def by_name(records: list) -> list:
        # Experiments of the same second are listed in no particular order by DVC.
        return [dict(r, experiments=sorted(r["experiments"] or [], key=lambda e: e["name"])) for r in records]

    ours = json.loads(xp("exp", "show", "--json", cwd=repo).stdout)
    theirs = json.loads(dvc(dvc_bin, repo, "exp", "show", "--json"))
    assert by_name(ours) == by_name(theirs)
    assert len(ours[1]["experiments"]) == 2 and len(ours[1]["experiments"][0]["revs"]) >= 2, "chains are listed"
    for args in (["--hide-workspace"], ["-n", "2"], ["--param-deps"]):
        ours = json.loads(xp("exp", "show", "--json", *args, cwd=repo).stdout)
        theirs = json.loads(dvc(dvc_bin, repo, "exp", "show", "--json", *args))
        assert by_name(ours) == by_name(theirs), (args, [r["data"] for r in ours[-1:]],
                                                  [r["data"] for r in theirs[-1:]])

    # A project whose pipelines live in subfolders.
    sub = tmp_path / "sub"
    real_projects.subfolder_pipelines(sub)
    _init(sub, dvc_bin)
    xp("repro", "-q", cwd=sub)
    git(sub, "add", "-A")
    git(sub, "commit", "-q", "-m", "reproduced")
    xp("exp", "run", "--temp", "-n", "e1", "-S", "pipelines/train/config.yaml:fit.lr=0.5", cwd=sub)
    ours = json.loads(xp("exp", "show", "--json", cwd=sub).stdout)
    assert by_name(ours) == by_name(json.loads(dvc(dvc_bin, sub, "exp", "show", "--json")))


def test_a_dependency_outside_the_repository_is_hashed_as_dvc_does(tmp_path, dvc_bin, xp):
    outside = tmp_path / "shared" / "lookup.csv"
    outside.parent.mkdir()
    outside.write_text("a,1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(f"stages:\n  use:\n    cmd: cp {outside} copy.csv\n"
                                   f"    deps: [{outside}, ../shared/lookup.csv]\n    outs: [copy.csv]\n")
    _init(repo, dvc_bin)
    assert _same_status(repo, dvc_bin, xp)["use"]
    xp("repro", cwd=repo)
    assert _same_status(repo, dvc_bin, xp) == {}
    outside.write_text("a,2\n")
    status = _same_status(repo, dvc_bin, xp)
    assert list(status["use"][0]["changed deps"].values()) == ["modified"], "one file, however it is written"


def test_held_out_shapes_empty_project_overlaps_and_dag_names_in_a_subfolder(tmp_path, dvc_bin, xp):
    # A DVC project that tracks nothing yet answers, as DVC does.
    empty = tmp_path / "empty"
    empty.mkdir()
    _init(empty, dvc_bin)
    assert _same_status(empty, dvc_bin, xp) == {}
    assert "no data or pipelines tracked" in xp("status", cwd=empty).stdout
    assert _dot(xp("dag", "--dot", cwd=empty).stdout) == _dot(dvc(dvc_bin, empty, "dag", "--dot")) == (set(), set())

    # A .dvc file and a stage claiming the same path: status still answers; the graph is refused.
    both = tmp_path / "both"
    real_projects.tracked_data(both)
    (both / "dvc.yaml").write_text("stages:\n  make:\n    cmd: echo x > data/raw.csv\n    outs: [data/raw.csv]\n")
    _init(both, dvc_bin)
    _same_status(both, dvc_bin, xp)
    result = xp("dag", cwd=both, expect=2)
    assert ("'data/raw.csv', tracked by data/raw.csv.dvc, overlaps output 'data/raw.csv' of stage 'make'"
            in result.stderr)
    assert "tracked by data/raw.csv.dvc" in xp("repro", cwd=both, expect=2).stderr

    # DVC in a subfolder of the git repository: .dvc files are named from the project's folder.
    mono = tmp_path / "mono"
    real_projects.monorepo(mono)
    real_projects.tracked_data(mono / "project-1" / "tracked")
    (mono / "project-1" / "tracked" / "dvc.yaml").unlink()
    _init(mono, dvc_bin, subdirs=("project-1",))
    one = mono / "project-1"
    assert _dot(xp("dag", "--dot", cwd=one).stdout) == _dot(dvc(dvc_bin, one, "dag", "--dot"))
    assert "tracked/data/raw.csv.dvc" in xp("dag", "--dot", cwd=one).stdout
    _same_status(mono, dvc_bin, xp, cwd=one)


def test_an_output_outside_the_repository_is_reported_but_never_written(tmp_path, dvc_bin, xp):
    outside = tmp_path / "elsewhere" / "result.csv"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(f"stages:\n  export:\n    cmd: echo x > {outside}\n    outs:\n      - {outside}\n")
    _init(repo, dvc_bin)
    assert _same_status(repo, dvc_bin, xp) == {"export": [{"changed outs": {str(outside): "deleted"}}]}
    result = xp("repro", cwd=repo, expect=2)
    assert f"error: dvc.yaml:5: path '{outside}' in stage 'export' is absolute" in result.stderr
    assert not outside.parent.exists(), "nothing was written outside the project"



def test_a_pulled_experiment_cannot_make_apply_write_outside_the_project(tmp_path, xp):
    """A teammate's experiment is untrusted: a subfolder lock, a .dvc file or a symlinked folder pointing
    outside the work tree makes `exp apply` write nothing there (the cache holds the bytes it names)."""
    import hashlib

    repo = real_projects.reproduced_subfolder_project(tmp_path / "repo", xp)
    outside = tmp_path / "outside"
    outside.mkdir()
    payload = b"pwned\n"
    md5 = hashlib.md5(payload).hexdigest()
    obj = repo / ".xp" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(payload)
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "evil")
    lock = repo / "pipelines" / "train" / "dvc.lock"
    lock.write_text(lock.read_text().replace("    outs:\n", "    outs:\n    - path: ../../../outside/victim.txt\n"
                                              f"      hash: md5\n      md5: {md5}\n      size: 6\n", 1))
    (repo / "evil.dvc").write_text(f"outs:\n- md5: {md5}\n  size: 6\n  hash: md5\n  path: ../outside/evil.txt\n")
    (repo / "linkdir").symlink_to(outside, target_is_directory=True)
    (repo / "dvc.lock").write_text((repo / "dvc.lock").read_text().replace(
        "    outs:\n",
        f"    outs:\n    - path: linkdir/through.txt\n      hash: md5\n      md5: {md5}\n      size: 6\n", 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a teammate's experiment")
    evil = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "evil")
    git(repo, "update-ref", f"refs/exps/{head[:2]}/{head[2:]}/evil", evil)
    xp("exp", "apply", "evil", "--force", cwd=repo, expect=None)
    assert list(outside.iterdir()) == [], "nothing was written outside the project"
