"""The panels' requests through a real client: xp/plotsData and xp/compareExperiments."""

from __future__ import annotations

import pytest

from pyhelper.server import protocol as p
from tests.lsp_client import refused, request, started
from tests.test_plots import project  # noqa: F401 (the fixture: a pipeline with every plot kind, experiments slow/fast)

pytestmark = pytest.mark.asyncio


async def test_plots_data_gives_the_clis_specs_and_custom_plots(project, xp):  # noqa: F811
    import json

    cli = json.loads(xp("plots", "diff", "slow", "fast", "--xp-json", cwd=project).stdout)
    async with started(project) as client:
        result = await request(client, p.PLOTS_DATA, p.PlotsDataParams(
            revs=["slow", "fast"], metric="acc", param="lr", parallel_params=["lr"]))
        assert [(r.label, r.kind) for r in result.revisions] == [("slow", "experiment"), ("fast", "experiment")]
        ids = [x.id for x in result.plots]
        assert ids[:-2] == [x["id"] for x in cli["plots"]] and ids[-2:] == [
            "acc vs lr", "parallel coordinates: lr → acc"]
        by_id = {x.id: x for x in result.plots}
        assert by_id["log.csv"].spec == cli["plots"][ids.index("log.csv")]["spec"]
        assert by_id["acc vs lr"].revisions == ["slow", "fast"] and result.errors == []
        # What the panel's custom-plot controls offer: every param and metric of the revisions shown.
        assert (result.params, result.metrics) == (["label", "lr"], ["acc"])
        only = await request(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["slow"], targets=["preds.json"]))
        assert [x.template for x in only.plots] == ["confusion"]
        message = await refused(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["nope"]))
        assert "'nope' is neither an experiment" in message
        assert "metric" in await refused(client, p.PLOTS_DATA, p.PlotsDataParams(param="lr"))


async def test_compare_puts_experiments_side_by_side_with_changed_rows(project):  # noqa: F811
    async with started(project) as client:
        result = await request(client, p.COMPARE_EXPERIMENTS,
                               p.CompareExperimentsParams(names=["slow", "fast", "HEAD"]))
        assert [c.label for c in result.columns] == ["slow", "fast", "main"]
        rows = {(r.section, r.key): r for r in result.rows}
        assert rows[("params", "lr")].values == [0.1, 0.5, 0.2] and rows[("params", "lr")].changed
        assert rows[("params", "label")].values == ["cat", "cat", "cat"] and not rows[("params", "label")].changed
        assert rows[("metrics", "acc")].values == [0.2857, 0.6667, 0.4444]
        assert [r.section for r in result.rows] == ["params", "params", "metrics"]
        message = await refused(client, p.COMPARE_EXPERIMENTS, p.CompareExperimentsParams(names=["slow"]))
        assert "compare 2 to 20 experiments (got 1)" in message


def _records(columns: p.PlotColumns) -> list[dict]:
    """The page's expansion of a plot's columns (extension/src/plotColumns.ts), in Python."""
    revs = [label for label, count in zip(columns.rev, columns.rev_runs, strict=True) for _ in range(count)]
    series = [name for name, count in zip(columns.series, columns.series_runs, strict=True) for _ in range(count)]
    return [{"rev": r, "series": s, "x": x, "y": y}
            for r, s, x, y in zip(revs, series, columns.x, columns.y, strict=True)]


async def test_plots_data_as_columns_carries_the_same_records_as_the_cli(project, xp):  # noqa: F811
    import json

    cli = json.loads(xp("plots", "diff", "slow", "fast", "--xp-json", cwd=project).stdout)
    expected = {x["id"]: x["spec"] for x in cli["plots"]}
    async with started(project) as client:
        result = await request(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["slow", "fast"], columns=True))
    with_columns = [x for x in result.plots if x.columns is not None]
    # Every plot read from a data file travels as columns; images keep their data: URLs inline.
    assert {x.template for x in with_columns} >= {"linear", "confusion"}
    assert all(x.template == "image" for x in result.plots if x.columns is None)
    for plot in result.plots:
        spec = plot.spec
        if plot.columns is not None:
            assert spec["data"]["values"] == []
            spec = {**spec, "data": {**spec["data"], "values": _records(plot.columns)}}
        assert spec == expected[plot.id], plot.id


async def test_plots_data_reads_the_first_plots_then_the_rest_by_id(project):  # noqa: F811
    """The panel draws a screenful first: `first` reads that many plots; the rest come pending, then by id."""
    async with started(project) as client:
        whole = await request(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["slow", "fast"], columns=True))
        head = await request(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["slow", "fast"], columns=True, first=1))
        assert [x.id for x in head.plots] == [x.id for x in whole.plots] and len(head.plots) > 2
        assert [x.pending for x in head.plots] == [False] + [True] * (len(head.plots) - 1)
        assert head.plots[0] == whole.plots[0]
        assert all(x.spec == {} and x.columns is None for x in head.plots[1:])
        assert [x.template for x in head.plots] == [x.template for x in whole.plots]
        rest = await request(client, p.PLOTS_DATA, p.PlotsDataParams(
            revs=["slow", "fast"], columns=True, targets=[x.id for x in head.plots[1:]]))
        assert rest.plots == whole.plots[1:]
        assert "`first`" in await refused(client, p.PLOTS_DATA, p.PlotsDataParams(revs=["slow"], first=-1))
