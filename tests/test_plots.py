"""`xp plots`: plots definitions, data joined across real experiments, Vega-Lite specs, the offline HTML report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pyhelper.core.pipeline.dvcfile import read_pipeline
from pyhelper.core.plots.definitions import definitions
from pyhelper.core.plots.templates import PALETTE, color_scale
from tests.conftest import git

TRAIN = '''
import json, os
p = dict(line.split(": ", 1) for line in open("params.yaml").read().splitlines() if line)
lr = float(p["lr"])
label = p.get("label", "cat").strip('"')
with open("log.csv", "w") as f:
    f.write("epoch,loss,acc\\n")
    for e in range(5):
        f.write(f"{e},{1 / (1 + lr * e):.4f},{lr * e / (1 + lr * e):.4f}\\n")
json.dump([{"actual": "cat", "predicted": "cat"}, {"actual": "cat", "predicted": "dog"},
           {"actual": "dog", "predicted": "dog"}], open("preds.json", "w"))
open("eval.tsv", "w").write(f"class\\tscore\\n{label}\\t{lr}\\ndog\\t{2 * lr}\\n")
open("curve.tsv", "w").write("step\\tvalue\\n0\\t1\\n1\\t" + str(lr) + "\\n")
os.makedirs("dvclive/plots/metrics", exist_ok=True)
open("dvclive/plots/metrics/loss.tsv", "w").write("step\\tloss\\n0\\t1.0\\n1\\t" + str(1 - lr) + "\\n")
json.dump({"acc": round(lr * 4 / (1 + lr * 4), 4)}, open("metrics.json", "w"))
'''

DVC_YAML = """
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [lr, label]
    metrics:
      - metrics.json: {cache: false}
    plots:
      - log.csv: {cache: false, x: epoch, y: loss}
      - preds.json: {cache: false, template: confusion, x: actual, y: predicted}
      - curve.tsv: {x: step}
    outs:
      - eval.tsv: {cache: false}
plots:
  - eval.tsv: {template: bar, x: class, y: score}
  - scores:
      template: scatter
      x: epoch
      y:
        log.csv: acc
"""


@pytest.fixture
def project(gen, xp) -> Path:
    """A pipeline with every kind of plot, reproduced and committed, and experiments 'slow' (lr 0.1), 'fast' (0.5)."""
    files = {"train.py": TRAIN, "dvc.yaml": DVC_YAML, "params.yaml": "lr: 0.2\nlabel: cat\n",
             ".gitignore": "/curve.tsv\n"}
    return reproduced(gen, xp, files, "reproduced", {"slow": "0.1", "fast": "0.5"})


def reproduced(gen, xp, files: dict[str, str], message: str, experiments: dict[str, str]) -> Path:
    """A repository of `files`, reproduced and committed as `message`, then one experiment per name → lr."""
    repo = gen(files)
    xp("repro", "-q", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    for name, lr in experiments.items():
        xp("exp", "run", "-S", f"lr={lr}", "-n", name, cwd=repo)
    return repo


def report(xp, repo: Path, *args: str) -> dict:
    """`xp plots … --xp-json` parsed, with plots by id."""
    out = json.loads(xp("plots", *args, "--xp-json", cwd=repo).stdout)
    out["by_id"] = {p["id"]: p for p in out["plots"]}
    return out


def rows_of(plot: dict, rev: str) -> list[dict]:
    spec = plot["spec"]
    return [r for r in spec["data"]["values"] if r["rev"] == rev]


def test_definitions_from_top_level_and_stage_outputs(gen):
    repo = gen({"dvc.yaml": DVC_YAML})
    found = {d.id: d for d in definitions(read_pipeline(repo))}
    assert list(found) == ["eval.tsv", "scores", "log.csv", "preds.json", "curve.tsv"]
    assert found["eval.tsv"].template == "bar"  # The top-level entry wins over the plain out.
    assert [(s.path, s.y, s.x) for s in found["scores"].sources] == [("log.csv", ("acc",), "epoch")]
    assert (found["preds.json"].template, found["preds.json"].sources[0].y) == ("confusion", ("predicted",))


def test_unknown_template_is_one_line_naming_the_choices(gen, xp):
    repo = gen({"dvc.yaml": "plots:\n  - log.csv: {template: pie}\n", "log.csv": "a,b\n1,2\n"})
    err = xp("plots", "show", cwd=repo, expect=2).stderr
    assert err.strip().splitlines() == [
        "error: dvc.yaml: unknown plot template 'pie' in plot 'log.csv' — use one of: "
        "linear, scatter, smooth, confusion, confusion_normalized, bar, bar_horizontal, bar_horizontal_sorted"]


def test_diff_joins_each_experiments_data_tagged_by_name(project, xp):
    out = report(xp, project, "diff", "slow", "fast")
    assert [r["label"] for r in out["revisions"]] == ["slow", "fast"]
    assert set(out["by_id"]) == {"eval.tsv", "scores", "log.csv", "preds.json", "curve.tsv",
                                 "dvclive/plots/metrics/loss.tsv"}
    assert out["errors"] == []
    log = out["by_id"]["log.csv"]
    assert log["revisions"] == ["slow", "fast"]
    assert [r["y"] for r in rows_of(log, "slow")] == [round(1 / (1 + 0.1 * e), 4) for e in range(5)]
    assert [r["x"] for r in rows_of(log, "fast")] == [0, 1, 2, 3, 4]
    assert log["spec"]["encoding"]["x"]["title"] == "epoch" and log["spec"]["mark"]["type"] == "line"
    # curve.tsv is a cached output (not in git): read from the object cache through each commit's dvc.lock.
    assert [r["y"] for r in rows_of(out["by_id"]["curve.tsv"], "fast")] == [1, 0.5]
    # The live metric curve is plotted although dvc.yaml does not declare it.
    assert [r["y"] for r in rows_of(out["by_id"]["dvclive/plots/metrics/loss.tsv"], "slow")] == [1.0, 0.9]


def test_each_template_draws_its_own_mark(project, xp):
    by_id = report(xp, project, "diff", "slow", "fast")["by_id"]
    assert by_id["scores"]["spec"]["mark"]["type"] == "point"
    confusion = by_id["preds.json"]["spec"]
    assert confusion["facet"]["column"]["field"] == "rev"
    assert [layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]
            for layer in confusion["spec"]["layer"]] == ["rect", "text"]
    assert {(r["x"], r["y"]) for r in confusion["data"]["values"]} == {("cat", "cat"), ("cat", "dog"), ("dog", "dog")}
    bar = by_id["eval.tsv"]["spec"]
    assert bar["mark"]["type"] == "bar" and bar["encoding"]["xOffset"]["field"] == "rev"
    assert {(r["rev"], r["x"], r["y"]) for r in bar["data"]["values"]} >= {("slow", "dog", 0.2), ("fast", "dog", 1.0)}


def test_smooth_template_layers_raw_and_loess(gen, xp):
    repo = gen({"dvc.yaml": "plots:\n  - log.csv: {template: smooth, x: step}\n",
                "log.csv": "step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(20))})
    spec = report(xp, repo, "show")["by_id"]["log.csv"]["spec"]
    assert [layer.get("transform", [{}])[0].get("loess") for layer in spec["layer"]] == [None, "y"]


def test_every_experiment_keeps_one_colour_in_every_plot(project, xp):
    out = report(xp, project, "diff", "slow", "fast", "HEAD")
    scales = {json.dumps(p["spec"]["encoding"]["color"]["scale"]) for p in out["plots"] if "encoding" in p["spec"]}
    assert len(scales) == 1
    scale = json.loads(scales.pop())
    assert scale["domain"] == ["slow", "fast", "main"] and len(set(scale["range"])) == 3


def test_twenty_experiments_get_twenty_distinct_colours():
    scale = color_scale([f"exp-{i}" for i in range(20)])
    assert len(set(scale["range"])) == 20 and set(scale["range"]) == set(PALETTE)


def test_metric_vs_param_and_parallel_coordinates_across_experiments(project, xp):
    out = report(xp, project, "diff", "slow", "fast", "HEAD", "--metric-vs-param", "acc:lr",
                 "--parallel", "lr,label:acc")
    custom = out["by_id"]["acc vs lr"]["spec"]
    assert sorted((r["rev"], r["x"], r["y"]) for r in custom["data"]["values"]) == [
        ("fast", 0.5, 0.6667), ("main", 0.2, 0.4444), ("slow", 0.1, 0.2857)]
    parallel = out["by_id"]["parallel coordinates: lr, label → acc"]["spec"]
    lines = parallel["layer"][0]["data"]["values"]
    norm = {(r["rev"], r["axis"]): r["norm"] for r in lines}
    assert norm[("slow", "lr")] == 0.0 and norm[("fast", "lr")] == 1.0 and norm[("main", "lr")] == 0.25
    assert norm[("fast", "acc")] == 1.0 and norm[("slow", "acc")] == 0.0
    assert {r["metric"] for r in lines if r["rev"] == "fast"} == {0.6667}  # Lines are coloured by the metric.
    assert parallel["layer"][0]["encoding"]["x"]["sort"] == ["lr", "label", "acc"]


def test_unknown_param_and_unknown_revision_are_one_line_errors(project, xp):
    err = xp("plots", "diff", "slow", "--metric-vs-param", "acc:lrr", cwd=project, expect=2).stderr
    assert err.startswith("error: no param 'lrr' in the chosen experiments — did you mean 'lr'")
    err = xp("plots", "diff", "slwo", cwd=project, expect=2).stderr
    assert err.startswith("error: 'slwo' is neither an experiment nor a git revision — did you mean 'slow'")
    err = xp("plots", "show", "nope.csv", cwd=project, expect=2).stderr
    assert err.startswith("error: no plot matches nope.csv")


def test_show_draws_the_workspace_into_xp_folder_and_targets_filter(project, xp):
    out = xp("plots", "show", "scores", cwd=project).stdout
    assert out.strip() == f"Wrote 1 plot(s) of 1 revision(s) to {project / '.xp/plots/index.html'}"
    # A file as target: every plot that reads it.
    assert set(report(xp, project, "show", "log.csv")["by_id"]) == {"log.csv", "scores"}
    assert "git" not in xp("plots", "show", cwd=project).stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True).stdout
    assert ".xp" not in status  # The report never becomes part of an experiment's snapshot.


def test_templates_are_listed(tmp_path, xp):
    out = json.loads(xp("plots", "templates", "--json", cwd=tmp_path).stdout)
    assert list(out) == ["linear", "scatter", "smooth", "confusion", "confusion_normalized", "bar", "bar_horizontal",
                         "bar_horizontal_sorted", "image"]


def _render(html: Path) -> str:
    """The DOM after Debian's chromium ran the page's scripts (headless, no network needed)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run scripts/e2e-setup.sh (make test does) to render the report")
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--disable-background-networking", "--virtual-time-budget=15000",
                           "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # The scripts' own text (vega's source, the specs) is not what the page shows: drop it.
    return re.sub(r"<script\b.*?</script>", "", done.stdout, flags=re.S)


def test_html_is_self_contained_and_renders_every_plot_offline(project, xp):
    html = project / "report.html"
    xp("plots", "diff", "slow", "fast", "--parallel", "lr:acc", "-o", str(html), cwd=project)
    text = html.read_text()
    scripts = re.findall(r"<script\b[^>]*>", text)
    assert len(scripts) == 6 and not any("src=" in tag for tag in scripts)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)
    assert "default-src 'none'" in text
    dom = _render(html)
    charts = re.findall(r'<div class="chart(?: [^"]*)?"', dom)
    assert len(charts) == 7 and not any("xp-error" in c for c in charts)
    assert dom.count('class="marks"') == 7  # One SVG drawn per plot (the six of dvc.yaml + parallel coordinates).


def test_hostile_values_are_drawn_as_text_and_nothing_executes(gen, xp):
    hostile = "</script><img src=x onerror=alert(1)>"
    repo = gen({"dvc.yaml": "plots:\n  - eval.tsv: {template: bar, x: class, y: score, title: '<b>t</b>'}\n",
                "eval.tsv": f"class\tscore\n{hostile}\t1\nok\t2\n"})
    xp("plots", "show", "-o", "out.html", cwd=repo)
    text = (repo / "out.html").read_text()
    assert hostile not in text and "<b>t</b>" not in text.split("<script", 1)[1]
    dom = _render(repo / "out.html")
    assert "<img" not in dom and "<b>" not in dom.split('id="plots"', 1)[1]
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in dom  # The category label, as SVG text.


def test_an_experiment_named_as_markup_is_text_in_the_report(project, xp):
    name = '<b>ünï"q"&amp;'
    xp("exp", "run", "-S", "lr=0.3", "-n", name, cwd=project)
    xp("plots", "diff", name, "slow", "--targets", "log.csv", "-o", "out.html", cwd=project)
    dom = _render(project / "out.html")
    assert "<b>" not in dom and "xp-error" not in dom
    assert dom.count('class="marks"') == 2  # log.csv and scores, which reads it.
    # The header and the chart's legend both show the name as the literal text.
    assert dom.count("&lt;b&gt;ünï\"q\"&amp;amp;") >= 2


IMAGES = '''
import os, struct, sys, zlib
lr = float(open("params.yaml").read().split("lr:")[1].split()[0])
def png(red):
    """A 2×2 PNG of one colour (no imaging library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\\0" + bytes([red, 0, 0]) * 2 for _ in range(2))
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
os.makedirs("images", exist_ok=True)
open("images/sample.png", "wb").write(png(int(lr * 255)))
open("images/curve.svg", "w").write(f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                    f'<script>alert(1)</script><rect width="{lr * 10}" height="10"/></svg>')
open("imp.csv", "w").write(f"feature,importance\\nage,{lr}\\nheight,{1 - lr}\\n")
open("pred.csv", "w").write("actual,predicted\\ncat,cat\\ncat,dog\\ndog,dog\\ndog,dog\\n")
'''

IMAGES_DVC = """
stages:
  draw:
    cmd: python draw.py
    deps: [draw.py]
    params: [lr]
    plots:
      - images
      - imp.csv: {cache: false, template: bar_horizontal_sorted, x: importance, y: feature}
      - pred.csv: {cache: false, template: confusion_normalized, x: actual, y: predicted}
"""


@pytest.fixture
def images_project(gen, xp) -> Path:
    """A stage whose cached folder output holds a PNG and an SVG per run; experiments 'dim' and 'bright'."""
    return reproduced(gen, xp, {"draw.py": IMAGES, "dvc.yaml": IMAGES_DVC, "params.yaml": "lr: 0.2\n"}, "drawn",
                      {"dim": "0.1", "bright": "0.9"})


def test_images_of_each_experiment_side_by_side_from_the_cache(images_project, xp):
    import base64

    out = report(xp, images_project, "diff", "dim", "bright")
    assert out["errors"] == []
    sample = out["by_id"]["images/sample.png"]
    assert sample["template"] == "image" and sample["revisions"] == ["dim", "bright"]
    images = {row["rev"]: row["url"] for row in sample["spec"]["data"]["values"]}
    # Each experiment's own bytes, read from the object cache (the folder is not in git).
    red = {rev: base64.b64decode(url.split(",", 1)[1]) for rev, url in images.items()}
    assert all(url.startswith("data:image/png;base64,") for url in images.values())
    assert red["dim"] != red["bright"] and red["dim"].startswith(b"\x89PNG")
    assert sample["spec"]["facet"]["column"]["sort"] == ["dim", "bright"]
    assert out["by_id"]["images/curve.svg"]["spec"]["data"]["values"][0]["url"].startswith("data:image/svg+xml")


def test_horizontal_bars_and_normalized_confusion(images_project, xp):
    by_id = report(xp, images_project, "diff", "dim", "bright")["by_id"]
    bars = by_id["imp.csv"]["spec"]
    assert bars["encoding"]["y"] == {"field": "y", "type": "nominal", "title": "feature", "sort": "-x"}
    assert bars["encoding"]["x"]["type"] == "quantitative" and bars["encoding"]["yOffset"]["field"] == "rev"
    assert {(r["rev"], r["y"], r["x"]) for r in bars["data"]["values"]} >= {("dim", "age", 0.1), ("bright", "age", 0.9)}
    confusion = by_id["pred.csv"]["spec"]["spec"]
    assert confusion["transform"][-1] == {"calculate": "datum.count / datum.total", "as": "share"}
    assert confusion["layer"][0]["encoding"]["color"]["field"] == "share"


def test_image_and_new_templates_render_offline_and_svg_scripts_stay_inert(images_project, xp):
    html = images_project / "report.html"
    xp("plots", "diff", "dim", "bright", "-o", str(html), cwd=images_project)
    dom = _render(html)
    charts = re.findall(r'<div class="chart(?: [^"]*)?"', dom)
    assert len(charts) == 4 and not any("xp-error" in c for c in charts)
    # Two images per image plot (one per experiment), drawn as SVG <image> marks with data: URLs.
    assert len(re.findall(r'<image [^>]*href="data:image/png;base64,', dom)) == 2
    assert len(re.findall(r'<image [^>]*href="data:image/svg\+xml;base64,', dom)) == 2
    assert "<script>alert(1)" not in dom  # An SVG shown as an image never runs its script.
    # The normalized matrix shows shares: dog predicted 3 times, twice rightly.
    assert ">0.67<" in dom and ">0.33<" in dom


def test_a_running_experiment_is_plotted_from_the_files_it_is_writing(gen, xp):
    """`xp plots diff NAME` of an experiment still running draws the steps it has logged so far."""
    import os
    import sys
    import time

    from tests.conftest import GIT_ENV
    from tests.test_checkpoints import PROJECT as TRAINING

    repo = gen({**TRAINING, "params.yaml": "epochs: 6\ndelay: 0.7\n"})
    run = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "--temp", "-q", "-n", "deep"], cwd=repo,
                           env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        seen: list[int] = []
        while time.monotonic() < deadline and run.poll() is None:
            shown = xp("plots", "diff", "deep", "--xp-json", cwd=repo, expect=None)
            if shown.returncode == 2 and "neither an experiment" in shown.stderr:
                continue  # Not started yet: the name is known once the run has begun.
            out = json.loads(shown.stdout)
            if out["revisions"][0]["kind"] == "running":
                curve = next((p for p in out["plots"] if p["id"].endswith("loss.tsv")), None)
                steps = len(curve["spec"]["data"]["values"]) if curve else 0
                if not seen or steps > seen[-1]:
                    seen.append(steps)
                if len(seen) >= 2 and seen[-1] >= 2:
                    break
            time.sleep(0.2)
        assert run.poll() is None, "the run ended before two steps were plotted mid-run"
        assert len(seen) >= 2 and seen[-1] > seen[0], seen  # The curve grew while the run went on.
    finally:
        assert run.wait(timeout=60) == 0, run.stderr.read()
    done = json.loads(xp("plots", "diff", "deep", "--xp-json", cwd=repo).stdout)
    assert done["revisions"][0]["kind"] == "experiment"  # Finished: read from its commit.
    curve = next(p for p in done["plots"] if p["id"].endswith("loss.tsv"))
    assert len(curve["spec"]["data"]["values"]) == 6


def test_large_line_charts_are_drawn_lean():
    """Above 5,000 points no per-point ARIA text or titled tooltip (interpreted per point under the CSP)."""
    from pyhelper.core.plots.templates import spec

    small = spec("linear", [{"rev": "a", "series": "loss", "x": 1, "y": 0.5}], labels=["a"])
    large = spec("linear", [], labels=["a"], x_type="quantitative", several=False, size=20_000)
    assert "tooltip" in small["encoding"] and "config" not in small
    assert "tooltip" not in large["encoding"] and large["mark"]["tooltip"] == {"content": "data"}
    assert large["config"] == {"aria": False}
    # Numbers arrive as numbers: Vega-Lite is told not to parse x again (both sizes).
    assert small["data"]["format"] == large["data"]["format"] == {"parse": None}
    assert "format" not in spec("bar", [{"rev": "a", "series": "s", "x": "cat", "y": 1}], labels=["a"])["data"]


def test_columns_make_the_records_in_order():
    from pyhelper.core.plots.collect import Columns

    columns = Columns(rev=(("a", 3), ("b", 1)), series=(("loss", 2), ("acc", 2)), x=[1, 2, 1, 1],
                      y=[0.5, 0.4, 0.9, 0.7])
    assert columns.records() == [
        {"rev": "a", "series": "loss", "x": 1, "y": 0.5}, {"rev": "a", "series": "loss", "x": 2, "y": 0.4},
        {"rev": "a", "series": "acc", "x": 1, "y": 0.9}, {"rev": "b", "series": "acc", "x": 1, "y": 0.7}]


def test_parsed_plot_files_are_kept_by_blob_and_bounded():
    """A commit's plot file is parsed once per process; the memory it keeps stays under its limit."""
    from pyhelper.core.plots.series import _Parsed

    parsed = _Parsed()
    parsed.LIMIT = 10
    parsed.put(("a", ".tsv"), {"step": [1, 2, 3], "loss": [0.3, 0.2, 0.1]})
    parsed.put(("b", ".tsv"), {"step": [1, 2], "loss": [0.5, 0.4]})
    assert parsed.get(("a", ".tsv")) == {"step": [1, 2, 3], "loss": [0.3, 0.2, 0.1]} and parsed.size == 10
    parsed.put(("c", ".tsv"), {"step": [1], "loss": [0.9]})  # Over the limit: the least recently used goes.
    assert parsed.get(("b", ".tsv")) is None and parsed.get(("a", ".tsv")) is not None and parsed.size == 8
    parsed.put(("huge", ".tsv"), {"step": list(range(11))})  # Larger than the whole limit: not kept.
    assert parsed.get(("huge", ".tsv")) is None and parsed.size == 8


def test_dash_A_means_every_commit_as_in_exp_show_and_all_experiments_means_heads(project, xp):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "next", "--allow-empty"],
                   cwd=project, check=True)
    xp("exp", "run", "-S", "lr=0.3", "-n", "slow", cwd=project)  # the same name on the new baseline
    old, new = subprocess.run(["git", "rev-parse", "HEAD~1", "HEAD"], cwd=project, capture_output=True,
                              text=True).stdout.split()
    everything = [r["label"] for r in report(xp, project, "diff", "-A")["revisions"]]
    # The name both baselines have is told apart by its baseline (the order is by commit time, to the second).
    assert sorted(everything) == sorted(["fast", f"slow ({old[:7]})", f"slow ({new[:7]})"]), everything
    of_head = [r["label"] for r in report(xp, project, "diff", "--all-experiments")["revisions"]]
    assert of_head == ["slow"], "HEAD's baseline has one experiment"
    named = [r["label"] for r in report(xp, project, "diff", "workspace", "-A")["revisions"]]
    assert named[0] == "workspace" and len(named) == 4
