"""Vega-Lite specs for xp's plot templates, with their data inline.

Every spec draws normalised records: `rev` (the experiment or revision shown), `series` (which
file and field, when a plot has several), `x` and `y`. Colours come from one palette of 20
distinct colours assigned in the order revisions are given, so an experiment keeps its colour in
every plot of a report (Vega's own category20 pairs light and dark shades of 10 hues).
"""

from __future__ import annotations

from typing import Any

from pyhelper.core.plots.definitions import TEMPLATES

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
"""The `$schema` of every spec (an identifier; nothing is fetched from it)."""

PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990",
    "#800000", "#808000", "#000075", "#bfef45", "#a9a9a9", "#ffe119", "#000000", "#fabed4", "#dcbeff",
    "#aaffc3", "#ffd8b1",
)
"""20 colours told apart on white (Trubetskoy's list, strongest first); a 21st revision reuses the first."""

DESCRIPTIONS = {
    "linear": "lines of y against x, one per revision (and per field when several)",
    "scatter": "points of y against x, one colour per revision",
    "smooth": "the raw lines faint, with a LOESS-smoothed line over them",
    "confusion": "a confusion matrix per revision: counts of (actual x, predicted y) pairs",
    "bar": "bars of y for each x, grouped by revision",
}
"""One line per template, for `xp plots templates`."""


def color_scale(labels: list[str]) -> dict[str, Any]:
    """A Vega-Lite scale giving each label its palette colour, in order."""
    return {"domain": list(labels), "range": [PALETTE[i % len(PALETTE)] for i in range(len(labels))]}


def _x_type(rows: list[dict[str, Any]]) -> str:
    numeric = all(isinstance(r["x"], (int, float)) and not isinstance(r["x"], bool) for r in rows)
    return "quantitative" if numeric and rows else "ordinal"


def spec(template: str, rows: list[dict[str, Any]], *, labels: list[str], title: str = "", x_label: str = "x",
         y_label: str = "y") -> dict[str, Any]:
    """The Vega-Lite spec of one plot drawn with `template` over normalised `rows`."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}")
    base: dict[str, Any] = {"$schema": SCHEMA, "data": {"values": rows}, "width": "container", "height": 260}
    if title:
        base["title"] = title
    color = {"field": "rev", "type": "nominal", "title": "experiment", "scale": color_scale(labels)}
    several = len({r.get("series") for r in rows}) > 1
    tooltip = [{"field": "rev", "title": "experiment"}, {"field": "series"},
               {"field": "x", "title": x_label}, {"field": "y", "title": y_label}]
    x = {"field": "x", "type": _x_type(rows), "title": x_label}
    y = {"field": "y", "type": "quantitative", "title": y_label, "scale": {"zero": False}}
    if template in ("linear", "scatter"):
        encoding: dict[str, Any] = {"x": x, "y": y, "color": color, "tooltip": tooltip}
        if several:
            encoding["strokeDash" if template == "linear" else "shape"] = {"field": "series", "type": "nominal"}
        mark = {"type": "line", "point": False, "tooltip": True} if template == "linear" else {"type": "point"}
        encoding["detail"] = {"field": "series"}
        return {**base, "mark": mark, "encoding": encoding}
    if template == "smooth":
        raw = {"mark": {"type": "line", "opacity": 0.25},
               "encoding": {"x": x, "y": y, "color": color, "detail": {"field": "series"}}}
        smoothed = {"transform": [{"loess": "y", "on": "x", "groupby": ["rev", "series"], "bandwidth": 0.3}],
                    "mark": {"type": "line"},
                    "encoding": {"x": x, "y": y, "color": color, "detail": {"field": "series"}}}
        return {**base, "layer": [raw, smoothed]}
    if template == "confusion":
        base.pop("height")
        base["width"] = 220
        heat = {"mark": "rect", "encoding": {
            "x": {"field": "x", "type": "nominal", "title": x_label},
            "y": {"field": "y", "type": "nominal", "title": y_label},
            "color": {"aggregate": "count", "type": "quantitative", "title": "count"}}}
        text = {"mark": {"type": "text", "color": "#303030"}, "encoding": {
            "x": {"field": "x", "type": "nominal"}, "y": {"field": "y", "type": "nominal"},
            "text": {"aggregate": "count", "type": "quantitative"}}}
        return {"$schema": SCHEMA, "data": base["data"], **({"title": title} if title else {}),
                "facet": {"column": {"field": "rev", "type": "nominal", "title": "experiment",
                                     "sort": list(labels)}},
                "spec": {"width": 220, "height": 220, "layer": [heat, text]}}
    return {**base, "mark": {"type": "bar", "tooltip": True}, "encoding": {
        "x": {"field": "x", "type": "nominal", "title": x_label},
        "y": {"field": "y", "type": "quantitative", "title": y_label},
        "xOffset": {"field": "rev", "type": "nominal", "sort": list(labels)},
        "color": color, "tooltip": tooltip}}
