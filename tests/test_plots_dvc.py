"""`xp plots show/diff --json`, `--show-vega`, `--split` and `xp plots modify` beside DVC 3.67.1 on the
same project: the same JSON, the same spec, the same dvc.yaml bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401  (the fixture)

DVC_YAML = """\
# The project's plots.
stages:
  train:  # writes the log
    cmd: echo train
    outs:
      - model.bin
    metrics:
      - scores.json:
          cache: false
    plots:
      - train.csv:   # one row per epoch
          x: epoch
          cache: false
      - loss.tsv:
          cache: false
plots:
  - eval/roc.json:
      x: fpr
      y: tpr
  - confusion:
      template: confusion
      x: actual
      y:
        eval/cm.json: predicted
  - both:
      x: epoch
      y:
        train.csv: [loss, acc]
  - sub/points.yaml:
      x: a
      template: scatter
  - img
  - missing.csv
"""

FILES: dict[str, str | bytes] = {
    "dvc.yaml": DVC_YAML,
    "train.csv": "epoch,loss,acc\n0,1.5,0.1\n1,0.9,0.5\n",
    "loss.tsv": "step\tval\n0\t3\n1\t2\n",
    "scores.json": '{"acc": 0.5}\n',
    "eval/roc.json": '[{"fpr": 0, "tpr": 0}, {"fpr": 0.5, "tpr": 0.8}, {"fpr": 1, "tpr": 1}]\n',
    "eval/cm.json": '{"test": [{"actual": "cat", "predicted": "dog"}, {"actual": "cat", "predicted": "cat"}]}\n',
    "sub/points.yaml": "- {a: 1, b: 2}\n- {a: 2, b: 3.5}\n",
    "img/a.png": b"\x89PNG\r\n\x1a\n not really an image",
}


@pytest.fixture
def project(gen, dvc_bin) -> Path:  # noqa: F811
    """Two commits (the second changes every data file) and a changed workspace, with .dvc/ from `dvc init`."""
    repo = gen(FILES, commit=False)
    dvc(dvc_bin, repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    (repo / "train.csv").write_text("epoch,loss,acc\n0,1.2,0.3\n1,0.7,0.6\n2,0.5,0.8\n")
    (repo / "eval" / "roc.json").write_text('[{"fpr": 0, "tpr": 0}, {"fpr": 1, "tpr": 1}]\n')
    (repo / "img" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n another")
    git(repo, "commit", "-q", "-am", "two")
    (repo / "train.csv").write_text("epoch,loss,acc\n0,1.0,0.3\n1,0.4,0.9\n")
    return repo


def _both(xp, dvc_bin, repo: Path, *args: str) -> tuple[dict, dict]:  # noqa: F811
    ours = json.loads(xp(*args, cwd=repo).stdout)
    theirs = json.loads(dvc(dvc_bin, repo, *args))
    return ours, theirs


@pytest.mark.dvc
@pytest.mark.parametrize("args", [
    ["plots", "show", "--json"],
    ["plots", "show", "--json", "--split"],
    ["plots", "show", "--json", "train.csv", "-x", "acc", "-t", "scatter", "--title", "T", "--y-label", "L"],
    ["plots", "show", "--json", "--no-header", "train.csv"],
    ["plots", "show", "--json", "eval"],  # DVC's targets are regular expressions matched at the start.
    ["plots", "diff", "HEAD~1", "HEAD", "--json"],
    ["plots", "diff", "HEAD~1", "--json", "--split"],  # One revision: it and the workspace.
    ["plots", "diff", "--json"],  # None: HEAD and the workspace, as tracked files changed.
    ["plots", "diff", "HEAD~1", "HEAD", "--json", "--targets", "both", "confusion"],
])
def test_plots_json_is_dvcs(project, xp, dvc_bin, tmp_path, args):  # noqa: F811
    # -o puts both tools' image files in one folder, so their `url`s are the same absolute paths: the
    # one thing that differs otherwise is where each writes them by default (DVC: dvc_plots/, xp: .xp/plots/).
    ours, theirs = _both(xp, dvc_bin, project, *args, "-o", str(tmp_path / "images"))
    assert ours == theirs
    if "--split" in args:
        assert "anchor_definitions" in ours["data"]["train.csv"][0]
    if args[:3] == ["plots", "show", "--json"] and len(args) == 3:
        # Errors are DVC's: what could not be read, by plot, revision and source.
        assert ours["errors"] == [{"name": "missing.csv", "rev": "workspace", "source": "missing.csv",
                                   "type": "FileNotFoundError",
                                   "msg": "[Errno 2] No such file or directory: 'missing.csv'"}]


@pytest.mark.dvc
def test_plots_json_without_o_differs_only_in_where_images_go(project, xp, dvc_bin):  # noqa: F811
    ours, theirs = _both(xp, dvc_bin, project, "plots", "diff", "HEAD~1", "HEAD", "--json")
    urls = [e.pop("url") for e in ours["data"]["img/a.png"]]
    their_urls = [e.pop("url") for e in theirs["data"]["img/a.png"]]
    assert ours == theirs
    # Only the folder differs (absolute, and xp's is inside .xp/, which git ignores); the files are the same.
    assert [Path(u).name for u in urls] == [Path(u).name for u in their_urls] == ["HEAD~1_img_a.png", "HEAD_img_a.png"]
    assert all(Path(u).parent == project / ".xp" / "plots" for u in urls)
    assert Path(urls[1]).read_bytes() == Path(their_urls[1]).read_bytes() == b"\x89PNG\r\n\x1a\n another"


@pytest.mark.dvc
@pytest.mark.parametrize("args", [
    ["plots", "show", "--show-vega", "both"],
    ["plots", "show", "--show-vega", "eval/roc.json", "-t", "smooth"],
    ["plots", "diff", "HEAD~1", "--targets", "train.csv", "--show-vega"],
])
def test_show_vega_is_dvcs(project, xp, dvc_bin, args):  # noqa: F811
    ours, theirs = _both(xp, dvc_bin, project, *args)
    assert ours == theirs and ours["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_show_vega_needs_one_target_and_not_json(gen, xp):
    repo = gen(FILES)
    assert "please specify a target for `--show-vega`" in xp("plots", "show", "--show-vega", cwd=repo,
                                                                 expect=2).stderr
    assert "only specify one target" in xp("plots", "show", "--show-vega", "a", "b", cwd=repo, expect=2).stderr
    assert "mutually exclusive" in xp("plots", "show", "--show-vega", "both", "--json", cwd=repo, expect=2).stderr


def test_xp_json_keeps_xps_shape(gen, xp):
    out = json.loads(xp("plots", "show", "--xp-json", cwd=gen(FILES)).stdout)
    assert {"revisions", "plots", "errors"} <= set(out)
    assert {p["id"] for p in out["plots"]} >= {"train.csv", "both", "eval/roc.json"}


def test_html_template_puts_the_plots_at_plot_divs(gen, xp, tmp_path):
    repo = gen(FILES)
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>mine</title>{scripts}</head><body><h1>Ours</h1>{plot_divs}</body></html>")
    xp("plots", "show", "--html-template", str(page), "-o", str(tmp_path / "out"), cwd=repo)
    text = (tmp_path / "out" / "index.html").read_text()
    assert text.startswith("<html><head><meta http-equiv=\"Content-Security-Policy\"")
    assert "<h1>Ours</h1>" in text and 'id="xp-specs"' in text and "{plot_divs}" not in text
    assert text.index("vegaEmbed") < text.index("</head>")  # {scripts} is where the template says.
    page.write_text("<html><body>no placeholder</body></html>")
    error = xp("plots", "show", "--html-template", str(page), cwd=repo, expect=2).stderr
    assert f"{page}: HTML template has to contain '{{plot_divs}}'" in error


# plots modify: the same bytes as DVC's, from the same file.

MODIFY = """\
# top comment
stages:
  train:  # the stage
    cmd: echo hi
    deps:
      - train.py
    outs:
      - model.bin
    metrics:
      - m.json:
          cache: false
    plots:
      - loss.csv
      - train.csv:   # keep me
          x: epoch
          cache: false
plots:
  - eval/roc.json:
      x: fpr
"""


@pytest.mark.dvc
@pytest.mark.parametrize("steps", [
    [["train.csv", "-y", "loss", "--title", "A: b", "--no-header"]],
    [["train.csv", "-y", "loss"], ["train.csv", "--unset", "x", "y"]],
    [["loss.csv", "-x", "step", "-t", "smooth", "--x-label", "Step", "--y-label", "Loss"]],
    [["model.bin", "-x", "a"]],  # An output becomes a plot: it moves under `plots:`.
    [["train.csv", "--unset"]],
])
def test_plots_modify_writes_dvcs_bytes(tmp_path, xp, dvc_bin, steps):  # noqa: F811
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for repo in (ours, theirs):
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "dvc.yaml").write_text(MODIFY)
        dvc(dvc_bin, repo, "init", "-q")
    for step in steps:
        xp("plots", "modify", *step, cwd=ours)
        dvc(dvc_bin, theirs, "plots", "modify", *step)
        assert (ours / "dvc.yaml").read_bytes() == (theirs / "dvc.yaml").read_bytes(), step
    assert "# top comment" in (ours / "dvc.yaml").read_text()


@pytest.mark.parametrize("args, says", [
    (["nothere.csv", "-x", "a"], "error: Unable to find DVC file with output 'nothere.csv' — did you mean"),
    (["eval/roc.json", "-x", "a"], "error: 'eval/roc.json' is a top-level plot of dvc.yaml, not a stage's output"),
    (["train.csv", "--unset", "title"],
     "error: display properties ['title'] not found in plot 'train.csv' — dvc.yaml sets x for it"),
    (["m.json", "--unset", "x"], "error: 'm.json' is not a known plot: --unset has nothing to remove"),
    (["loss.csv", "-t", "pie"], "error: Template 'pie' not found. — use one of: simple, linear"),
])
def test_plots_modify_refuses_bad_input_and_writes_nothing(gen, xp, args, says):
    repo = gen({"dvc.yaml": MODIFY})
    result = xp("plots", "modify", *args, cwd=repo, expect=2)
    assert result.stderr.startswith(says) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (repo / "dvc.yaml").read_text() == MODIFY


def test_plots_modify_refuses_a_dvc_yaml_that_is_not_utf8(gen, xp):
    text = MODIFY.replace("# top comment", "# caf\xe9").encode("latin-1")
    repo = gen({"dvc.yaml": text})
    result = xp("plots", "modify", "train.csv", "-x", "b", cwd=repo, expect=2)
    assert "dvc.yaml" in result.stderr and "UTF-8" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (repo / "dvc.yaml").read_bytes() == text


def test_plots_modify_refuses_a_foreach_stage(gen, xp):
    text = ("stages:\n  train:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n      plots:\n"
            "        - ${item}.csv:\n            cache: false\n")
    repo = gen({"dvc.yaml": text})
    result = xp("plots", "modify", "a.csv", "-x", "step", cwd=repo, expect=2)
    assert "is made by foreach/matrix or uses ${}" in result.stderr
    assert (repo / "dvc.yaml").read_text() == text
