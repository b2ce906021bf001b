"""Plots across experiments: a metric against a param, and parallel coordinates.

Each revision contributes one record (its params and metrics as `xp exp show` reads them, each
blob parsed once), so these plots answer "which settings gave the best result" at a glance.
Keys are dotted (`train.lr`); `file:key` picks one file when several have the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.plots.collect import WORKSPACE, Plot, Revision
from pyhelper.core.plots.templates import SCHEMA, color_scale
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, did_you_mean

if TYPE_CHECKING:
    import pygit2


def values(project: Project, repo: pygit2.Repository | None, revisions: list[Revision]) -> list[dict[str, Any]]:
    """One record per revision: `rev` (its label), `params` and `metrics` as file → key → value, and `errors`."""
    from pyhelper.core.experiments.show import RowKind, RowReader

    reader = RowReader(project, repo)
    out = []
    for revision in revisions:
        tree = None if revision.kind in (WORKSPACE, "running") or repo is None else repo[revision.rev].tree
        source = (reader if revision.kind != "running" else
                  RowReader(project.in_workspace(Path(revision.root or project.root)), repo))
        kind: RowKind = ("workspace" if revision.kind == WORKSPACE else "running" if revision.kind == "running"
                         else "experiment" if revision.kind == "experiment" else "baseline")  # A commit: a baseline.
        row = source.row(kind=kind, name=revision.label, rev=revision.rev, baseline="", created=None,
                         status="", tree=tree)
        out.append({"rev": revision.label, "params": row.params, "metrics": row.metrics, "errors": row.errors})
    return out


def _lookup(records: list[dict[str, Any]], section: str, key: str) -> list[Any]:
    """Each record's value of `key` in `section` (None where absent); `BadInput` when no record has it."""
    file, _, name = key.rpartition(":") if ":" in key else ("", "", key)
    found = []
    for record in records:
        value = None
        for path, keys in record[section].items():
            if (not file or path == file) and name in keys:
                value = keys[name]
                break
        found.append(value)
    if all(v is None for v in found):
        known = sorted({k for r in records for keys in r[section].values() for k in keys})
        what = "param" if section == "params" else "metric"
        raise BadInput(f"no {what} '{key}' in the chosen experiments",
                       hint=did_you_mean(name, known) or f"{what}s: {', '.join(known[:12]) or 'none'}")
    return found


def metric_vs_param(records: list[dict[str, Any]], metric: str, param: str) -> Plot:
    """A point per experiment: `param` on x, `metric` on y, coloured as in the other plots."""
    xs, ys = _lookup(records, "params", param), _lookup(records, "metrics", metric)
    rows = [{"rev": r["rev"], "x": x, "y": y}
            for r, x, y in zip(records, xs, ys, strict=True) if x is not None and y is not None]
    numeric = all(isinstance(r["x"], (int, float)) and not isinstance(r["x"], bool) for r in rows)
    labels = [r["rev"] for r in records]
    spec = {
        "$schema": SCHEMA, "title": f"{metric} vs {param}", "width": "container", "height": 260,
        "data": {"values": rows},
        "mark": {"type": "point", "filled": True, "size": 80, "tooltip": True},
        "encoding": {
            "x": {"field": "x", "type": "quantitative" if numeric else "ordinal", "title": param,
                  "scale": {"zero": False}},
            "y": {"field": "y", "type": "quantitative", "title": metric, "scale": {"zero": False}},
            "color": {"field": "rev", "type": "nominal", "title": "experiment", "scale": color_scale(labels)},
            "tooltip": [{"field": "rev", "title": "experiment"}, {"field": "x", "title": param},
                        {"field": "y", "title": metric}],
        },
    }
    return Plot(id=f"{metric} vs {param}", template="custom", spec=spec, revisions=tuple(r["rev"] for r in rows))


def _axis_value(value: Any, categories: list[Any]) -> float | None:
    """A value placed on a parallel axis: numbers as they are, anything else by its rank among the others."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    return float(categories.index(str(value)))


def parallel(records: list[dict[str, Any]], params: list[str], metric: str) -> Plot:
    """Parallel coordinates: one line per experiment over `params` and `metric`, each axis scaled 0–1.

    Each axis is normalised to its own min–max (min and max are written at its ends), and lines
    are coloured by the metric, so good and bad settings separate visually.
    """
    if not params:
        raise BadInput("parallel coordinates need at least one param", hint="e.g. --parallel train.lr,train.epochs")
    axes = [(p, _lookup(records, "params", p)) for p in params] + [(metric, _lookup(records, "metrics", metric))]
    rows: list[dict[str, Any]] = []
    ticks: list[dict[str, Any]] = []
    for name, column in axes:
        categories = sorted({str(v) for v in column if v is not None and not isinstance(v, (int, float))})
        placed = [_axis_value(v, categories) for v in column]
        present = [v for v in placed if v is not None]
        low, high = (min(present), max(present)) if present else (0.0, 1.0)
        span = (high - low) or 1.0
        for record, value, raw in zip(records, placed, column, strict=True):
            if value is not None:
                rows.append({"rev": record["rev"], "axis": name, "value": raw if isinstance(raw, (int, float)) else
                             str(raw), "norm": (value - low) / span})
        ends = ([(categories[0], 0.0), (categories[-1], 1.0)] if categories
                else [(low, 0.0), (high, 1.0 if span else 0.0)])
        ticks.extend({"axis": name, "label": f"{label:g}" if isinstance(label, float) else str(label), "norm": norm}
                     for label, norm in ends)
    metric_of = {r["rev"]: r["value"] for r in rows if r["axis"] == metric}
    for row in rows:
        row["metric"] = metric_of.get(row["rev"])
    order = [name for name, _ in axes]
    x = {"field": "axis", "type": "nominal", "sort": order, "title": None, "axis": {"labelAngle": 0, "orient": "top"}}
    spec = {
        "$schema": SCHEMA, "title": f"parallel coordinates: {', '.join(params)} → {metric}",
        "width": "container", "height": 300,
        "layer": [
            {"data": {"values": rows}, "mark": {"type": "line", "tooltip": True, "strokeWidth": 2},
             "encoding": {
                 "x": x, "y": {"field": "norm", "type": "quantitative", "axis": None},
                 "detail": {"field": "rev"},
                 "color": {"field": "metric", "type": "quantitative", "title": metric,
                           "scale": {"scheme": "viridis"}},
                 "tooltip": [{"field": "rev", "title": "experiment"}, {"field": "axis"}, {"field": "value"}]}},
            {"data": {"values": [{"axis": name} for name in order]}, "mark": {"type": "rule", "color": "#999"},
             "encoding": {"x": x}},
            {"data": {"values": ticks}, "mark": {"type": "text", "dx": 4, "align": "left", "color": "#555"},
             "encoding": {"x": x, "y": {"field": "norm", "type": "quantitative", "axis": None},
                          "text": {"field": "label"}}},
        ],
    }
    return Plot(id=f"parallel coordinates: {', '.join(params)} → {metric}", template="parallel", spec=spec,
                revisions=tuple(dict.fromkeys(r["rev"] for r in rows)))


def keys(records: list[dict[str, Any]], section: str) -> list[str]:
    """The `section` ('params' or 'metrics') keys of `records`, sorted, as the custom plots take them.

    A key is bare, or `file:key` when several files have it (the bare key would be ambiguous).
    """
    found: dict[str, set[str]] = {}
    for record in records:
        for path, values in record[section].items():
            for key in values:
                found.setdefault(key, set()).add(path)
    out = []
    for key, paths in sorted(found.items()):
        if len(paths) == 1:
            out.append(key)
        else:
            out.extend(f"{path}:{key}" for path in sorted(paths))
    return out
