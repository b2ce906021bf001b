"""The language server's speed through a real client (`python bench/server_bench.py --help`).

Builds a small project whose HEAD has N experiments (1,000 by default), written straight into
the object database with pygit2 (a commit per experiment with its own params.yaml and
metrics.json, under refs/exps/… as xp records them), starts `python -m pyhelper serve` in it
and drives it with pygls' client using VS Code's recorded capabilities. Prints one line per
figure, with the issue's target:

  first response    spawn → `initialize` answered; spawn → first `xp/showExperiments` answered
  show warm         `xp/showExperiments` (every row) once the table is warm: median and p95
  hover             `textDocument/hover` on a params.yaml key: median and p95
  notification      a new experiment ref appears → `xp/experimentsChanged` arrives: median and max
  panels            `xp/compareExperiments` of 20 experiments; `xp/plotsData` of 20 experiments with
                    10 plots × 1,000 steps each (the helper's part of opening the Compare / Plots panel)
  RSS               the server's resident memory after all that (and its peak)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROJECT = {
    "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n"
                "    params: [train.lr, train.epochs, model.layers]\n"
                "    metrics:\n      - metrics.json:\n          cache: false\n",
    "params.yaml": "train:\n  lr: 0.01   # learning rate\n  epochs: 10\nmodel:\n  layers: 3\n",
    "metrics.json": '{"acc": 0.5, "loss": 0.9}\n',
    "train.py": "print('training')\n",
}
PLOTS = 10
"""Plot files (1,000 steps each) in the first PLOTTED experiments, for the Plots panel's figure."""
PLOTTED = 20
STEPS = 1000


def build(root: Path, count: int) -> str:
    """The project with `count` experiments of HEAD; returns HEAD's commit id."""
    import pygit2

    root.mkdir(parents=True)
    for name, text in PROJECT.items():
        (root / name).write_text(text)
    with (root / "dvc.yaml").open("a") as f:
        f.write("plots:\n" + "".join(f"  - logs/curve{k}.csv: {{x: step}}\n" for k in range(PLOTS)))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "baseline"], cwd=root, check=True, env=env)
    repo = pygit2.Repository(str(root))
    head = repo.head.peel(pygit2.Commit)
    sig = pygit2.Signature("bench", "bench@localhost")
    for i in range(1, count + 1):
        builder = repo.TreeBuilder(head.tree)
        params = (PROJECT["params.yaml"].replace("lr: 0.01", f"lr: {i / 10000:g}")
                  .replace("epochs: 10", f"epochs: {10 + i % 7}"))
        metrics = f'{{"acc": {0.5 + i / 2500:.4f}, "loss": {0.9 - i / 2500:.4f}}}\n'
        builder.insert("params.yaml", repo.create_blob(params.encode()), pygit2.enums.FileMode.BLOB)
        builder.insert("metrics.json", repo.create_blob(metrics.encode()), pygit2.enums.FileMode.BLOB)
        if i <= PLOTTED:
            logs = repo.TreeBuilder()
            for k in range(PLOTS):
                curve = "step,value\n" + "".join(f"{s},{1 / (1 + s * i * (k + 1) / 1e4):.5f}\n" for s in range(STEPS))
                logs.insert(f"curve{k}.csv", repo.create_blob(curve.encode()), pygit2.enums.FileMode.BLOB)
            builder.insert("logs", logs.write(), pygit2.enums.FileMode.TREE)
        sig_i = pygit2.Signature("bench", "bench@localhost", int(time.time()) - count + i, 0)
        commit = repo.create_commit(None, sig_i, sig_i, f"e{i}", builder.write(), [head.id])
        repo.references.create(_ref(str(head.id), f"e{i}"), commit)
    del sig
    return str(head.id)


def _ref(baseline: str, name: str) -> str:
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


async def measure(root: Path, head: str, count: int, repeats: int) -> list[str]:
    """Runs every figure; returns the lines to print."""
    import pygit2
    from lsprotocol import types as lsp
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path
    from pytest_lsp import client_capabilities

    from pyhelper.server import protocol as p
    from pyhelper.server.server import XpProtocol

    class Client(LanguageClient):
        pass

    class ClientProtocol(XpProtocol.__mro__[1]):  # LanguageServerProtocol, with xp's types.
        def get_message_type(self, method):
            return p.MESSAGE_TYPES.get(method) or super().get_message_type(method)

        def get_result_type(self, method):
            # An editor only parses the JSON: time the listing as plain data, as VS Code gets it.
            if method == p.SHOW_EXPERIMENTS:
                return RawShowResponse
            return p.RESPONSE_TYPES.get(method) or super().get_result_type(method)

    from typing import Any

    import attrs

    RawShowResponse = attrs.make_class("RawShowResponse", {
        "id": attrs.field(type=int | str | None), "result": attrs.field(type=Any),
        "jsonrpc": attrs.field(type=str, default="2.0")})

    client = Client("xp-bench", "1", protocol_cls=ClientProtocol, converter_factory=p.converter)
    arrivals: list[tuple[float, list[str]]] = []

    @client.feature(p.EXPERIMENTS_CHANGED)
    def changed(params: p.ExperimentsChangedParams) -> None:
        arrivals.append((time.perf_counter(), params.baselines))

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def log(params) -> None:
        pass

    lines = []
    uri = from_fs_path(str(root))
    init = lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"), root_uri=uri,
                                process_id=os.getpid(), workspace_folders=[lsp.WorkspaceFolder(uri=uri, name="bench")])
    # The client's own first (de)serialisation of these big types is not the server's start-up time.
    converter = client.protocol._converter
    converter.structure(converter.unstructure(init), lsp.InitializeParams)
    converter.structure({"capabilities": {"hoverProvider": True}, "serverInfo": {"name": "x"}}, lsp.InitializeResult)
    spawned = time.perf_counter()
    await client.start_io(sys.executable, "-m", "pyhelper", "serve", cwd=str(root))
    await client.initialize_async(init)
    initialized = time.perf_counter() - spawned
    client.initialized(lsp.InitializedParams())
    first = await client.protocol.send_request_async(p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
    first_show = time.perf_counter() - spawned
    assert len(first["rows"]) == count + 2, len(first["rows"])
    lines.append(f"first response after start: initialize {initialized * 1000:.0f} ms, "
                 f"first xp/showExperiments ({count} experiments, cold) {first_show * 1000:.0f} ms  "
                 "(target <= 1000 ms)")

    import gc

    gc.collect()
    gc.freeze()  # The client's own collector pauses are not the server's latency.
    warm = []
    for _ in range(repeats):
        began = time.perf_counter()
        result = await client.protocol.send_request_async(p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
        warm.append(time.perf_counter() - began)
        assert len(result["rows"]) == count + 2 and result["rows"][-1]["kind"] == "experiment"
    lines.append(f"xp/showExperiments warm ({count + 2} rows): median {statistics.median(warm) * 1000:.1f} ms, "
                 f"p95 {_percentile(warm, 0.95) * 1000:.1f} ms  (target <= 50 ms)")

    params_uri = from_fs_path(str(root / "params.yaml"))
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=params_uri, language_id="yaml", version=1, text=(root / "params.yaml").read_text())))
    hovers = []
    for index in range(repeats * 5):
        line = (1, 2, 4)[index % 3]
        began = time.perf_counter()
        hover = await client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=params_uri), position=lsp.Position(line=line, character=3)))
        hovers.append(time.perf_counter() - began)
        assert hover is not None and "Across" in hover.contents.value
    lines.append(f"hover on a params.yaml key ({count} experiments): median {statistics.median(hovers) * 1000:.1f} ms, "
                 f"p95 {_percentile(hovers, 0.95) * 1000:.1f} ms  (target p95 <= 20 ms)")

    repo = pygit2.Repository(str(root))
    target = repo.references[_ref(head, "e1")].target
    latencies = []
    for index in range(repeats):
        await asyncio.sleep(0.35)  # Past the coalescing window: each ref is its own notification.
        seen = len(arrivals)
        made = time.perf_counter()
        repo.references.create(_ref(head, f"new-{index}"), target)
        while len(arrivals) == seen or head not in arrivals[-1][1]:
            if time.perf_counter() - made > 5:
                raise SystemExit(f"no xp/experimentsChanged within 5 s of ref new-{index}")
            await asyncio.sleep(0.002)
        latencies.append(arrivals[-1][0] - made)
    lines.append(f"new experiment ref → xp/experimentsChanged: median {statistics.median(latencies) * 1000:.0f} ms, "
                 f"max {max(latencies) * 1000:.0f} ms  (target <= 300 ms)")

    names = [f"e{i}" for i in range(1, PLOTTED + 1)]
    compares, plots = [], []
    for _ in range(max(3, repeats // 4)):
        began = time.perf_counter()
        compared = await client.protocol.send_request_async(p.COMPARE_EXPERIMENTS,
                                                            p.CompareExperimentsParams(names=names))
        compares.append(time.perf_counter() - began)
        assert len(compared.columns) == PLOTTED
        began = time.perf_counter()
        # As the Plots panel asks: the data as columns.
        drawn = await client.protocol.send_request_async(p.PLOTS_DATA, p.PlotsDataParams(revs=names, columns=True))
        plots.append(time.perf_counter() - began)
        assert len(drawn.plots) == PLOTS and len(drawn.plots[0].columns.y) == PLOTTED * STEPS
    lines.append(f"xp/compareExperiments of {PLOTTED} experiments: median {statistics.median(compares) * 1000:.0f} ms  "
                 f"(panel target <= 500 ms, drawing included)")
    lines.append(f"xp/plotsData, {PLOTS} plots × {PLOTTED} experiments × {STEPS} steps, data as columns: first "
                 f"{plots[0] * 1000:.0f} ms, then median {statistics.median(plots[1:]) * 1000:.0f} ms "
                 "(files parsed once)  (panel target <= 1000 ms, drawing included)")

    rss, peak = _rss_kb(client._server.pid)
    lines.append(f"server RSS after the figures: {rss / 1024:.0f} MB (peak {peak / 1024:.0f} MB)  (target <= 120 MB)")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return lines


def main(argv: list[str] | None = None) -> int:
    """Builds the project, measures, prints one line per figure."""
    parser = argparse.ArgumentParser(prog="bench/server_bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", type=int, default=1000, metavar="N", help="experiments on HEAD (default 1000)")
    parser.add_argument("--repeats", type=int, default=20, metavar="N", help="timed requests per figure (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xp-bench-server-") as work:
        root = Path(work) / "project"
        began = time.perf_counter()
        head = build(root, args.experiments)
        print(f"# {args.experiments} experiments written in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        for line in asyncio.run(measure(root, head, args.experiments, args.repeats)):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
