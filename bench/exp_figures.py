"""The experiment figures: each measures both tools on one shared project and returns its lines.

Experiments are git refs in DVC's layout (`refs/exps/<baseline[:2]>/<baseline[2:]>/<name>`), so
DVC and xp work on the very same project and see the very same experiments: what one tool
records, the other lists. Every figure checks, before timing, that each tool's output is the
real thing (the experiment count, the params of each experiment, the branch, the applied
params), and leaves the project clean at its commit.

Run as a script (`python exp_figures.py save FIRST LAST`, in a project, with pyhelper
importable) it records the experiments e<FIRST>..e<LAST>; see `save_experiments`.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import (
    REPO,
    CommandFailed,
    Contenders,
    Figure,
    Tool,
    failure,
    git,
    indent,
    init_dvc,
    interleave,
    progress,
    require_clean,
)

# Experiment e<i> of the demo project has train.epochs = EPOCHS_BASE + i and this accuracy.
EPOCHS_BASE = 1000
EPOCHS_LINE = re.compile(r"^(  epochs: )\d+$", re.MULTILINE)
ACCURACY = re.compile(r'("accuracy": )[-0-9.eE]+')
# diff, branch and apply run on the demo project with this many experiments.
OPS_EXPERIMENTS = 300
# Where DVC 3.67.1 keeps what `exp show` collected per experiment commit (dvc/repo/experiments/
# cache.py: ExpCache.CACHE_DIR under the repo's tmp dir). Removing it makes `exp show` cold.
DVC_EXP_CACHE = Path(".dvc", "tmp", "exps", "cache")

# The one-stage project of the `run` figure: a trivial stage that writes its param to a cached out.
STAGE_CMD = "python -c \"open('out.txt', 'w').write(open('params.yaml').read())\""
ONE_STAGE_FILES = {
    "dvc.yaml": f"stages:\n  write:\n    cmd: {STAGE_CMD}\n    params:\n      - p\n    outs:\n      - out.txt\n",
    "params.yaml": "p: 0\n",
    # Both tools see the output as ignored from the start, whichever of them reproduces first.
    ".gitignore": "/.xp/\n/out.txt\n",
}


@dataclass
class Line(Figure):
    """One line of the table. `seconds` holds the measured values in `unit`: seconds, or MB for peak RSS."""

    unit: str = "s"
    peak: bool = False
    """Summarised by the largest value (peak RSS) rather than the median."""
    target: float | None = None
    """xp's target from issue 3, in `unit`: xp must not exceed it."""
    note: str = ""

    def summary(self) -> dict[str, float]:
        """Each contender's median (or maximum, for a peak)."""
        pick = max if self.peak else statistics.median
        return {name: pick(values) for name, values in self.seconds.items()}


@dataclass
class Bench(Contenders):
    """The tools under test and the projects the figures share, built the first time one asks."""

    dvc_at_1000: bool
    demo_root: Path | None = None
    experiments: int = 0
    """How many experiments (e1..eN) the demo project has."""
    one_stage_root: Path | None = None

    def tools(self, project: Path) -> list[Tool]:
        """One Tool per tool under test, each working on `project`."""
        return [self.tool(name, project) for name in self.setup.tools]

    def demo(self, experiments: int) -> list[Tool]:
        """The tools on the demo project, which is first built and grown to at least `experiments`."""
        if self.demo_root is None:
            sys.path.insert(0, str(REPO))
            from pyhelper.demo import create

            self.demo_root = create(self.setup.work / "demo")
            progress(f"demo project in {self.demo_root}")
            _prepare(self.tools(self.demo_root))
        tools = self.tools(self.demo_root)
        if experiments > self.experiments:
            first, last = self.experiments + 1, experiments
            progress(f"recording experiments e{first}..e{last} with `xp exp save` (one process)")
            argv = [sys.executable, str(Path(__file__).resolve()), "save", str(first), str(last)]
            result = subprocess.run(argv, cwd=self.demo_root, env=self.setup.xp_env, capture_output=True, text=True,
                                    check=False)
            if result.returncode != 0:
                raise CommandFailed(failure("xp exp save", argv, result.returncode, result.stderr + result.stdout))
            self.experiments = experiments
            require_clean(tools[0])
        return tools

    def one_stage(self) -> list[Tool]:
        """The tools on the one-stage project, built (and reproduced once, committed) on first use."""
        if self.one_stage_root is None:
            root = self.setup.work / "one-stage"
            root.mkdir()
            git(root, "init", "-q")
            for name, text in ONE_STAGE_FILES.items():
                (root / name).write_text(text, encoding="utf-8")
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", "One trivial stage")
            self.one_stage_root = root
            progress(f"one-stage project in {root}")
            _prepare(self.tools(root))
        return self.tools(self.one_stage_root)


def _prepare(tools: list[Tool]) -> None:
    """`dvc init` the project (when DVC is under test), reproduce it once and commit the results."""
    by_name = {tool.name: tool for tool in tools}
    if "dvc" in by_name:
        init_dvc(by_name["dvc"])
    # Both tools write the same dvc.lock and cache (.dvc/cache), so one first run serves both.
    first = by_name.get("xp") or by_name["dvc"]
    first.run("repro")
    git(first.project, "add", "-A")
    git(first.project, "commit", "-q", "--allow-empty", "-m", "First run")
    require_clean(first)


# --- the figures ---------------------------------------------------------------------------------


def run(bench: Bench) -> list[Line]:
    """`exp run -S p=<new value>` of a trivial stage, against the stage's command alone."""
    tools = bench.one_stage()
    project = tools[0].project
    head = git(project, "rev-parse", "HEAD").strip()
    stage = Tool("stage", ("sh", "-c", STAGE_CMD), bench.setup.env, project)
    values = itertools.count(1)

    def once(tool: Tool) -> float:
        if tool.name == "stage":
            return tool.time()
        # A value never used before, so the stage must really run (no run-cache hit, nothing skipped).
        value = next(values)
        name = f"{tool.name}-{value}"
        seconds = tool.time("exp", "run", "-S", f"p={value}", "-n", name)
        _require_ran(tool, head, name, value)
        return seconds

    for tool in [stage, *tools]:
        once(tool)  # Untimed: checks each tool, and warms the page cache and byte code.
    whole = Line("run", "exp run -S p=<new>")
    alone = Line("run-stage", "exp run: the stage alone")
    interleave(whole, [stage, *tools], bench.setup.runs, once)
    alone.seconds["stage"] = whole.seconds.pop("stage")
    bare = statistics.median(alone.seconds["stage"])
    overhead = Line("run-overhead", "exp run overhead (tool - stage)", target=0.10)
    overhead.seconds = {name: [t - bare for t in times] for name, times in whole.seconds.items()}
    git(project, "checkout", "-q", "--", ".")
    require_clean(tools[0])
    return [alone, whole, overhead]


def show(bench: Bench, count: int, *, target: float | None = None, rss_target: float | None = None) -> list[Line]:
    """`exp show --json` with `count` experiments: DVC cold (its cache removed) and warm, xp, and peak RSS."""
    tools = bench.demo(count)
    note = ""
    if count >= 1000 and not bench.dvc_at_1000 and any(t.name == "dvc" for t in tools):
        tools = [t for t in tools if t.name != "dvc"]
        note = "dvc left out: ~35 s per cold run here (--dvc-1000 measures it)"
    if not tools:
        return []
    project = tools[0].project
    head = git(project, "rev-parse", "HEAD").strip()
    for tool in tools:
        if tool.name == "dvc":
            _clear_dvc_cache(project)
        _require_listed(tool, tool.stdout("exp", "show", "--json"), head, count)
        if tool.name == "dvc":
            cached = _dvc_cached(project)
            if cached < count:
                raise CommandFailed(f"dvc: {DVC_EXP_CACHE} holds {cached} entries after `exp show` of {count} "
                                    f"experiments; is that where DVC caches them?")
    cold = Line(f"show-{count}", f"exp show --json, {count:,} exps, cold", target=target, note=note)
    warm = Line(f"show-{count}-warm", f"exp show --json, {count:,} exps, dvc warm",
                note="xp keeps no cache: its runs are the cold line's" if any(t.name == "xp" for t in tools) else "")
    rss = Line(f"show-{count}-rss", f"exp show --json, {count:,} exps, peak RSS", unit="MB", peak=True,
               target=rss_target, note=note)
    for _ in range(bench.setup.runs):
        for tool in tools:
            if tool.name == "dvc":
                _clear_dvc_cache(project)
            measured = tool.measure("exp", "show", "--json")
            cold.seconds.setdefault(tool.name, []).append(measured.seconds)
            rss.seconds.setdefault(tool.name, []).append(measured.max_rss_kib * 1024 / 1e6)
            if tool.name == "dvc":
                # Right after a cold run, which filled the cache for every experiment.
                warm.seconds.setdefault("dvc", []).append(tool.time("exp", "show", "--json"))
            else:
                warm.seconds.setdefault(tool.name, []).append(measured.seconds)
    if "dvc" in warm.seconds and statistics.median(warm.seconds["dvc"]) >= statistics.median(cold.seconds["dvc"]):
        raise CommandFailed(f"dvc: `exp show` was not faster with {DVC_EXP_CACHE} kept than removed, so removing "
                            f"it is not what makes it cold: {warm.seconds['dvc']} vs {cold.seconds['dvc']}")
    require_clean(tools[0])
    return [cold, warm, rss] if "dvc" in warm.seconds else [cold, rss]


def diff(bench: Bench) -> list[Line]:
    """`exp diff e1 e2`."""
    tools = bench.demo(OPS_EXPERIMENTS)
    words = ["train.epochs", str(EPOCHS_BASE + 1), str(EPOCHS_BASE + 2), "accuracy"]
    for tool in tools:
        output = tool.run("exp", "diff", "e1", "e2")
        missing = [w for w in words if w not in output]
        if missing:
            raise CommandFailed(f"{tool.name}: `exp diff e1 e2` lacks {missing}:\n{indent(output)}")
    line = Line("diff", f"exp diff A B ({OPS_EXPERIMENTS} exps)", target=0.10)
    interleave(line, tools, bench.setup.runs, lambda tool: tool.time("exp", "diff", "e1", "e2"))
    require_clean(tools[0])
    return [line]


def branch(bench: Bench) -> list[Line]:
    """`exp branch e3 <a new branch>`; the branch is checked and deleted (with git) after each run."""
    tools = bench.demo(OPS_EXPERIMENTS)
    project = tools[0].project
    head = git(project, "rev-parse", "HEAD").strip()
    tree = git(project, "rev-parse", f"{_exp_ref(head, 'e3')}^{{tree}}").strip()
    numbers = itertools.count(1)

    def once(tool: Tool) -> float:
        name = f"bench-{tool.name}-{next(numbers)}"
        seconds = tool.time("exp", "branch", "e3", name)
        made = git(project, "rev-parse", f"refs/heads/{name}^{{tree}}").strip()
        if made != tree:
            raise CommandFailed(f"{tool.name}: branch {name} holds tree {made}, experiment e3 holds {tree}")
        git(project, "branch", "-q", "-D", name)
        return seconds

    for tool in tools:
        once(tool)
    line = Line("branch", f"exp branch NAME BR ({OPS_EXPERIMENTS} exps)", target=0.10)
    interleave(line, tools, bench.setup.runs, once)
    require_clean(tools[0])
    return [line]


def apply(bench: Bench) -> list[Line]:
    """`exp apply e1` and `exp apply e2` in turn, each into a clean workspace (reset with git, untimed)."""
    tools = bench.demo(OPS_EXPERIMENTS)
    project = tools[0].project
    turns = {tool.name: itertools.cycle([1, 2]) for tool in tools}

    def once(tool: Tool) -> float:
        git(project, "checkout", "-q", "--", ".")
        require_clean(tool)
        i = next(turns[tool.name])
        seconds = tool.time("exp", "apply", f"e{i}")
        epochs = EPOCHS_LINE.search((project / "params.yaml").read_text(encoding="utf-8"))
        if not epochs or epochs[0].split()[-1] != str(EPOCHS_BASE + i):
            raise CommandFailed(f"{tool.name}: after `exp apply e{i}` params.yaml has "
                                f"{epochs[0].strip() if epochs else 'no epochs line'}, not epochs: {EPOCHS_BASE + i}")
        return seconds

    for tool in tools:
        once(tool)
    line = Line("apply", f"exp apply NAME ({OPS_EXPERIMENTS} exps)", target=0.10)
    interleave(line, tools, bench.setup.runs, once)
    git(project, "checkout", "-q", "--", ".")
    require_clean(tools[0])
    return [line]


# Name on the command line → the function that measures it; they run in this order, so the demo
# project only grows (100 → 300 → 1,000 experiments).
FIGURES: dict[str, Callable[[Bench], list[Line]]] = {
    "run": run,
    "show-100": lambda bench: show(bench, 100),
    "show-300": lambda bench: show(bench, 300, target=0.25),
    "diff": diff,
    "branch": branch,
    "apply": apply,
    "show-1000": lambda bench: show(bench, 1000, target=0.5, rss_target=60),
}


# --- checks --------------------------------------------------------------------------------------


def _exp_ref(baseline: str, name: str) -> str:
    """The ref of experiment `name` of `baseline`, in DVC's layout."""
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def _require_ran(tool: Tool, head: str, name: str, value: int) -> None:
    """Fail unless the stage really ran with p=value and the experiment was recorded with that param."""
    out = (tool.project / "out.txt").read_text(encoding="utf-8").strip()
    if out != f"p: {value}":
        raise CommandFailed(f"{tool.name}: after `exp run -S p={value}` out.txt holds {out!r}")
    params = git(tool.project, "show", f"{_exp_ref(head, name)}:params.yaml").strip()
    if params != f"p: {value}":
        raise CommandFailed(f"{tool.name}: experiment {name} recorded params.yaml {params!r}, not p: {value}")


def _require_listed(tool: Tool, output: str, head: str, count: int) -> None:
    """Fail unless `exp show --json` lists exactly e1..e<count> for HEAD, each with its own params and metrics."""
    try:
        listed = _dvc_listed(json.loads(output), head)  # Both tools print DVC's records.
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise CommandFailed(
            f"{tool.name}: unexpected `exp show --json` output ({e!r}):\n{indent(output[:2000])}") from None
    expected = {f"e{i}": (EPOCHS_BASE + i, _accuracy(i)) for i in range(1, count + 1)}
    if len(listed) != count or listed != expected:
        wrong = sorted(set(listed.items()) ^ set(expected.items()))[:5]
        raise CommandFailed(f"{tool.name}: `exp show --json` lists {len(listed)} experiments of HEAD, "
                            f"expected {count}; first differences: {wrong}")


def _dvc_listed(data: list, head: str) -> dict[str, tuple[int, float]]:
    """Name → (train.epochs, accuracy) of HEAD's experiments in DVC's `exp show --json`."""
    baseline = next(entry for entry in data if entry["rev"] == head)
    out = {}
    for exp in baseline.get("experiments") or []:
        rev = exp["revs"][0]
        if rev.get("error"):
            raise ValueError(f"experiment {rev.get('name')}: {rev['error']}")
        values = rev["data"]
        out[rev["name"]] = (values["params"]["params.yaml"]["data"]["train"]["epochs"],
                            values["metrics"]["metrics.json"]["data"]["accuracy"])
    return out


def _clear_dvc_cache(project: Path) -> None:
    """Remove DVC's cache of collected experiments, so its next `exp show` is cold."""
    shutil.rmtree(project / DVC_EXP_CACHE, ignore_errors=True)


def _dvc_cached(project: Path) -> int:
    """How many experiment commits DVC's `exp show` cache holds (one file per commit)."""
    root = project / DVC_EXP_CACHE
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.is_dir() else 0


# --- recording the experiments (in a child process) ----------------------------------------------


def _accuracy(i: int) -> float:
    """The accuracy written into metrics.json for experiment e<i>."""
    return round(0.5 + i / 2000, 4)


def save_experiments(first: int, last: int) -> None:
    """Record e<first>..e<last> in the project in the current folder, with `xp exp save -n e<i>`.

    Before each save, train.epochs in params.yaml and accuracy in metrics.json are rewritten as a
    user would in an editor; the files are put back afterwards. The saves go through xp's own
    command line (`pyhelper.cli.main`) in this one process: a thousand interpreter starts would
    cost more than the figures they prepare, and measure nothing the figures use.
    """
    from pyhelper.cli import main

    params, metrics = Path("params.yaml"), Path("metrics.json")
    params_text, metrics_text = params.read_text(encoding="utf-8"), metrics.read_text(encoding="utf-8")
    try:
        for i in range(first, last + 1):
            text, found = EPOCHS_LINE.subn(rf"\g<1>{EPOCHS_BASE + i}", params_text)
            params.write_text(text, encoding="utf-8")
            text, found_accuracy = ACCURACY.subn(rf"\g<1>{_accuracy(i)}", metrics_text)
            metrics.write_text(text, encoding="utf-8")
            if found != 1 or found_accuracy != 1:
                sys.exit("params.yaml needs one `  epochs: N` line and metrics.json one accuracy")
            code = main(["exp", "save", "-n", f"e{i}"])
            if code != 0:
                sys.exit(f"`xp exp save -n e{i}` exited with code {code}")
    finally:
        params.write_text(params_text, encoding="utf-8")
        metrics.write_text(metrics_text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "save":
        sys.exit("usage: python exp_figures.py save FIRST LAST")
    save_experiments(int(sys.argv[2]), int(sys.argv[3]))
