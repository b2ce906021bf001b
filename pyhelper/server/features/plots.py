"""Plots and Compare panels' requests: the plots of chosen revisions (Vega-Lite specs with data) and
experiments side by side. Thin adapters over `pyhelper.core.plots` and `core.experiments.compare`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhelper.errors import BadInput
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated
from pyhelper.server.limits import MAX_PLOT_REVISIONS, cut, cut_values

if TYPE_CHECKING:
    from pyhelper.core.plots.collect import Plot
    from pyhelper.server.server import XpServer


def plots_data(ls: XpServer, params: p.PlotsDataParams) -> p.PlotsDataResult:
    """`xp plots diff --xp-json`, plus the custom plots the panel asks for."""
    from pyhelper.core.plots import across, collect

    if len(params.revs) > MAX_PLOT_REVISIONS:
        raise BadInput(f"{len(params.revs):,} revisions asked for; plots draw at most {MAX_PLOT_REVISIONS}",
                       hint=f"choose at most {MAX_PLOT_REVISIONS} experiments")
    if (params.param or params.parallel_params) and not params.metric:
        raise BadInput("a custom plot needs `metric`", hint="pass metric with param or parallelParams")
    project = ls.project()
    repo = collect.open_git(project)
    revisions = collect.select(project, repo, list(params.revs))
    if params.first is not None and params.first < 0:
        raise BadInput(f"`first` must be 0 or more, not {params.first}",
                       hint="ask for the first N plots, or leave it out")
    result = collect.collect(project, revisions, targets=list(params.targets), repo=repo, first=params.first)
    plots = list(result.plots)
    # Each revision's params and metrics: the custom plots' data, and the keys the panel offers for them.
    records = across.values(project, repo, revisions)
    if params.metric and (params.param or params.parallel_params):
        if params.param:
            plots.append(across.metric_vs_param(records, params.metric, params.param))
        if params.parallel_params:
            plots.append(across.parallel(records, list(params.parallel_params), params.metric))
    return p.PlotsDataResult(
        revisions=[p.PlotRevision(label=r.label, rev=r.rev, kind=r.kind) for r in result.revisions],
        plots=[_plot_spec(x, columns=params.columns) for x in plots],
        errors=[cut(e) for e in result.errors], params=across.keys(records, "params"),
        metrics=across.keys(records, "metrics"))


def _plot_spec(plot: Plot, *, columns: bool) -> p.PlotSpec:
    """A chart for the wire: its data as columns when the client asked for them (and the plot has them)."""
    if plot.pending:
        return p.PlotSpec(id=plot.id, template=plot.template, revisions=list(plot.revisions), spec={}, pending=True)
    if not columns or plot.columns is None:
        return p.PlotSpec(id=plot.id, template=plot.template, revisions=list(plot.revisions), spec=plot.inline())
    data = plot.columns
    return p.PlotSpec(id=plot.id, template=plot.template, revisions=list(plot.revisions), spec=plot.spec,
                      columns=p.PlotColumns(rev=[r for r, _ in data.rev], rev_runs=[n for _, n in data.rev],
                                            series=[s for s, _ in data.series], series_runs=[n for _, n in data.series],
                                            x=data.x, y=data.y))


def compare_experiments(ls: XpServer, params: p.CompareExperimentsParams) -> p.CompareExperimentsResult:
    """Params and metrics of 2 to 20 experiments side by side."""
    from pyhelper.core.experiments.compare import compare

    result = compare(ls.project(), list(params.names))
    return p.CompareExperimentsResult(
        columns=[p.PlotRevision(label=c.label, rev=c.rev, kind=c.kind) for c in result.columns],
        rows=[p.CompareRow(section=r.section, path=r.path, key=r.key, values=cut_values(list(r.values)),
                           changed=r.changed) for r in result.rows],
        errors=[cut(e) for e in result.errors])


HANDLERS: dict[str, Callable[..., Any]] = {
    p.PLOTS_DATA: plots_data,
    p.COMPARE_EXPERIMENTS: compare_experiments,
}


def register(server: XpServer) -> None:
    """Registers the panels' requests, each run on a worker thread."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
