"""The figures the benchmark measures, each with the checks that prove the tools did the real thing.

A figure starts from the projects as committed and leaves them so (`git status` clean). The
params are edited as a user would in an editor, never through either tool.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness import (
    CommandFailed,
    Figure,
    Setup,
    Tool,
    failure,
    indent,
    interleave,
    progress,
    require_clean,
    time_process,
)

EPOCHS_LINE = re.compile(r"^(  epochs: )(\d+)\s*$", re.MULTILINE)
# What each tool prints when it restores a stage from its run-cache instead of running it.
RESTORED = {
    "dvc": "Stage '{stage}' is cached - skipping run",
    "xp": "Restored stage '{stage}' from run-cache",
}
# The random file is written in chunks so that a large one never sits in memory whole.
HASH_CHUNK = 8 << 20


def noop(figure: Figure, tools: list[Tool], setup: Setup) -> Figure:
    """`repro` when nothing changed."""
    for tool in tools:
        tool.run("repro")
    interleave(figure, tools, setup.runs, lambda tool: tool.time("repro"))
    for tool in tools:
        require_clean(tool)
    return figure


def run_cache(figure: Figure, tools: list[Tool], setup: Setup) -> Figure:
    """`repro` after flipping `train.epochs` to a value whose run is in the run-cache."""
    a = _epochs(tools[0].project)
    b = a + 2
    for tool in tools:
        # The first repro at B runs train and evaluate; every later flip must restore them.
        _set_epochs(tool.project, b)
        tool.run("repro")
        for value in (a, b):
            _set_epochs(tool.project, value)
            _require_restored(tool, tool.run("repro"), value)
    current = {tool.name: b for tool in tools}

    def flip_and_repro(tool: Tool) -> float:
        current[tool.name] = a if current[tool.name] == b else b
        _set_epochs(tool.project, current[tool.name])
        seconds = tool.time("repro")
        # The output is discarded while timing, so the result is checked on disk instead.
        _require_log_epochs(tool, current[tool.name])
        return seconds

    interleave(figure, tools, setup.runs, flip_and_repro)
    _reset(tools, a)
    return figure


def params_diff(figure: Figure, tools: list[Tool], setup: Setup) -> Figure:
    """`params diff` with `train.epochs` changed in the workspace."""
    a = _epochs(tools[0].project)
    for tool in tools:
        _set_epochs(tool.project, a + 2)
        _require_output(tool, tool.run("params", "diff"), ["train.epochs", str(a + 2)])
    interleave(figure, tools, setup.runs, lambda tool: tool.time("params", "diff"))
    for tool in tools:
        _set_epochs(tool.project, a)
        require_clean(tool)
    return figure


def metrics_diff(figure: Figure, tools: list[Tool], setup: Setup) -> Figure:
    """`metrics diff` after a repro with changed params, not committed."""
    a = _epochs(tools[0].project)
    for tool in tools:
        _set_epochs(tool.project, a + 3)
        tool.run("repro")
        _require_output(tool, tool.run("metrics", "diff"), ["accuracy", "loss"])
    interleave(figure, tools, setup.runs, lambda tool: tool.time("metrics", "diff"))
    _reset(tools, a)
    return figure


def md5(figure: Figure, tools: list[Tool], setup: Setup) -> Figure:
    """Hashing one large file of random bytes: `md5sum` against xp's `file_md5` in a fresh python."""
    path = setup.work / "random.bin"
    progress(f"writing {setup.hash_mib} MiB of random bytes to {path}")
    rng = random.Random(0)
    with open(path, "wb") as f:
        for _ in range(setup.hash_mib * (1 << 20) // HASH_CHUNK):
            f.write(rng.randbytes(HASH_CHUNK))
    figure.bytes_hashed = path.stat().st_size
    script = f"from pyhelper.core.storage.hashing import file_md5; print(file_md5({str(path)!r}))"
    commands = {"md5sum": (["md5sum", str(path)], setup.env)}
    if "xp" in setup.tools:
        commands["xp"] = ([setup.xp_python, "-c", script], setup.xp_env)
    # Both must agree on the hash before their times mean anything; this also warms the page cache.
    digests = {}
    for name, (argv, env) in commands.items():
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CommandFailed(failure(name, argv, result.returncode, result.stderr))
        digests[name] = (result.stdout.split() or [""])[0]
    if len(set(digests.values())) != 1:
        raise CommandFailed(f"the md5 hashes differ: {digests}")
    for _ in range(setup.runs):
        for name, (argv, env) in commands.items():
            figure.seconds.setdefault(name, []).append(time_process(argv, setup.work, env, name))
    return figure


# Name on the command line → (label in the table, the function that measures it).
FIGURES: dict[str, tuple[str, Callable[[Figure, list[Tool], Setup], Figure]]] = {
    "noop": ("no-op repro", noop),
    "run-cache": ("run-cache hit", run_cache),
    "params-diff": ("params diff", params_diff),
    "metrics-diff": ("metrics diff", metrics_diff),
    "md5": ("md5", md5),
}


def _epochs(project: Path) -> int:
    """The value of `train.epochs` in the project's params.yaml."""
    match = EPOCHS_LINE.search((project / "params.yaml").read_text(encoding="utf-8"))
    if not match:
        raise CommandFailed(f"{project / 'params.yaml'}: no `  epochs: N` line under train")
    return int(match[2])


def _set_epochs(project: Path, value: int) -> None:
    """Rewrite `train.epochs` in params.yaml as a user would in an editor, touching nothing else."""
    path = project / "params.yaml"
    text, count = EPOCHS_LINE.subn(rf"\g<1>{value}", path.read_text(encoding="utf-8"))
    if count != 1:
        raise CommandFailed(f"{path}: expected one `  epochs: N` line, found {count}")
    path.write_text(text, encoding="utf-8")


def _reset(tools: list[Tool], epochs: int) -> None:
    """Put each project back at its committed state, restoring the outputs through a repro."""
    for tool in tools:
        _set_epochs(tool.project, epochs)
        tool.run("repro")
        require_clean(tool)


def _require_restored(tool: Tool, output: str, epochs: int) -> None:
    """Fail unless this repro restored train and evaluate from the run-cache instead of running them."""
    missing = [s for s in ("train", "evaluate") if RESTORED[tool.name].format(stage=s) not in output]
    if missing or "Running stage" in output:
        raise CommandFailed(
            f"{tool.name}: repro with train.epochs={epochs} did not restore {missing or 'every stage'} "
            f"from the run-cache; its output:\n{indent(output)}"
        )
    _require_log_epochs(tool, epochs)


def _require_log_epochs(tool: Tool, epochs: int) -> None:
    """Fail unless train_log.tsv holds one row per epoch, i.e. the outputs of the run asked for."""
    rows = (tool.project / "train_log.tsv").read_text(encoding="utf-8").splitlines()[1:]
    if len(rows) != epochs:
        raise CommandFailed(f"{tool.name}: train_log.tsv has {len(rows)} rows after a repro with train.epochs={epochs}")


def _require_output(tool: Tool, output: str, words: list[str]) -> None:
    """Fail unless the command's output mentions every one of `words`."""
    missing = [w for w in words if w not in output]
    if missing:
        raise CommandFailed(f"{tool.name}: output lacks {missing}:\n{indent(output)}")
