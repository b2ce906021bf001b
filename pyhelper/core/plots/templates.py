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
    "confusion_normalized": "a confusion matrix per revision, each y class's counts as fractions of it",
    "bar": "bars of y for each x, grouped by revision",
    "bar_horizontal": "horizontal bars of the value x for each category y, grouped by revision",
    "bar_horizontal_sorted": "horizontal bars as bar_horizontal, the largest first",
    "image": "image files (.png .jpg .gif .svg) shown side by side, one per revision",
}
"""One line per template, for `xp plots templates`."""


def color_scale(labels: list[str]) -> dict[str, Any]:
    """A Vega-Lite scale giving each label its palette colour, in order."""
    return {"domain": list(labels), "range": [PALETTE[i % len(PALETTE)] for i in range(len(labels))]}


def _x_type(rows: list[dict[str, Any]]) -> str:
    numeric = all(isinstance(r["x"], (int, float)) and not isinstance(r["x"], bool) for r in rows)
    return "quantitative" if numeric and rows else "ordinal"


LARGE = 5000
"""Above this many points a chart is drawn lean: no ARIA text per point, the tooltip is the point's record."""


def spec(template: str, rows: list[dict[str, Any]], *, labels: list[str], title: str = "", x_label: str = "x",
         y_label: str = "y", x_type: str | None = None, several: bool | None = None,
         size: int | None = None) -> dict[str, Any]:
    """The Vega-Lite spec of one plot drawn with `template` over normalised `rows`.

    `x_type` and `several` (more than one series) are worked out from the rows unless the caller
    already knows them (for 200,000 rows that is a tenth of a second saved). `size` is the number
    of points when `rows` is left empty (the data travels as columns and is filled in later).
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}")
    base: dict[str, Any] = {"$schema": SCHEMA, "data": {"values": rows}, "width": "container", "height": 260}
    if title:
        base["title"] = title
    color = {"field": "rev", "type": "nominal", "title": "experiment", "scale": color_scale(labels)}
    if several is None:
        several = len({r.get("series") for r in rows}) > 1
    tooltip = [{"field": "rev", "title": "experiment"}, {"field": "series"},
               {"field": "x", "title": x_label}, {"field": "y", "title": y_label}]
    x = {"field": "x", "type": x_type or _x_type(rows), "title": x_label}
    y = {"field": "y", "type": "quantitative", "title": y_label, "scale": {"zero": False}}
    if x["type"] == "quantitative" and template in ("linear", "scatter", "smooth"):
        # The numbers are numbers already: Vega-Lite need not parse every x again.
        base["data"]["format"] = {"parse": None}
    if template in ("linear", "scatter"):
        encoding: dict[str, Any] = {"x": x, "y": y, "color": color, "tooltip": tooltip}
        if several:
            encoding["strokeDash" if template == "linear" else "shape"] = {"field": "series", "type": "nominal"}
        mark: dict[str, Any] = ({"type": "line", "point": False, "tooltip": True} if template == "linear"
                                else {"type": "point"})
        encoding["detail"] = {"field": "series"}
        if (size if size is not None else len(rows)) > LARGE:
            # Each point's ARIA text and titled tooltip are expressions Vega evaluates per point
            # (interpreted, under the panels' CSP): for 20,000 points that was half the drawing time.
            # A canvas has no ARIA text anyway; the tooltip shows the point's record as it is.
            del encoding["tooltip"]
            mark["tooltip"] = {"content": "data"}
            base["config"] = {"aria": False}
        return {**base, "mark": mark, "encoding": encoding}
    if template == "smooth":
        raw = {"mark": {"type": "line", "opacity": 0.25},
               "encoding": {"x": x, "y": y, "color": color, "detail": {"field": "series"}}}
        smoothed = {"transform": [{"loess": "y", "on": "x", "groupby": ["rev", "series"], "bandwidth": 0.3}],
                    "mark": {"type": "line"},
                    "encoding": {"x": x, "y": y, "color": color, "detail": {"field": "series"}}}
        return {**base, "layer": [raw, smoothed]}
    if template.startswith("confusion"):
        return _confusion(rows, labels=labels, title=title, x_label=x_label, y_label=y_label,
                          normalized=template == "confusion_normalized")
    if template.startswith("bar_horizontal"):
        return {**base, "mark": {"type": "bar", "tooltip": True}, "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": x_label},
            "y": {"field": "y", "type": "nominal", "title": y_label,
                  **({"sort": "-x"} if template == "bar_horizontal_sorted" else {})},
            "yOffset": {"field": "rev", "type": "nominal", "sort": list(labels)},
            "color": color, "tooltip": tooltip}}
    return {**base, "mark": {"type": "bar", "tooltip": True}, "encoding": {
        "x": {"field": "x", "type": "nominal", "title": x_label},
        "y": {"field": "y", "type": "quantitative", "title": y_label},
        "xOffset": {"field": "rev", "type": "nominal", "sort": list(labels)},
        "color": color, "tooltip": tooltip}}


def _confusion(rows: list[dict[str, Any]], *, labels: list[str], title: str, x_label: str, y_label: str,
               normalized: bool) -> dict[str, Any]:
    """A confusion matrix per revision (facets): counts of (x, y) pairs, or each y class's share of them."""
    # Counted in Vega-Lite, not here, so the data stays the file's records (and its CSV/JSON export too).
    transform: list[dict[str, Any]] = [
        {"aggregate": [{"op": "count", "as": "count"}], "groupby": ["rev", "x", "y"]}]
    value: dict[str, Any] = {"field": "count", "type": "quantitative", "title": "count"}
    if normalized:
        # DVC's confusion_normalized: each predicted (y) class's counts divided by that class's total.
        transform += [{"joinaggregate": [{"op": "sum", "field": "count", "as": "total"}], "groupby": ["rev", "y"]},
                      {"calculate": "datum.count / datum.total", "as": "share"}]
        value = {"field": "share", "type": "quantitative", "title": "share", "scale": {"domain": [0, 1]}}
    heat = {"mark": "rect", "encoding": {
        "x": {"field": "x", "type": "nominal", "title": x_label},
        "y": {"field": "y", "type": "nominal", "title": y_label},
        "color": value}}
    text: dict[str, Any] = {"mark": {"type": "text"}, "encoding": {
        "x": {"field": "x", "type": "nominal"}, "y": {"field": "y", "type": "nominal"},
        "text": {**value, **({"format": ".2f"} if normalized else {})}}}
    # Light text on the dark cells, so every number stays readable.
    text["encoding"]["color"] = ({"condition": {"test": "datum.share > 0.5", "value": "white"}, "value": "#303030"}
                                 if normalized else {"value": "#303030"})
    return {"$schema": SCHEMA, "data": {"values": rows}, **({"title": title} if title else {}),
            "facet": {"column": {"field": "rev", "type": "nominal", "title": "experiment", "sort": list(labels)}},
            "spec": {"width": 220, "height": 220, "transform": transform, "layer": [heat, text]}}


def image_spec(images: list[dict[str, Any]], *, labels: list[str], title: str = "") -> dict[str, Any]:
    """Images side by side, one column per revision: `images` are {rev, series, url} with data: URLs."""
    # An image mark needs a position: the centre of its facet cell.
    return {"$schema": SCHEMA, "data": {"values": images}, **({"title": title} if title else {}),
            "facet": {"column": {"field": "rev", "type": "nominal", "title": "experiment", "sort": list(labels)},
                      **({"row": {"field": "series", "type": "nominal", "title": None}}
                         if len({i.get("series") for i in images}) > 1 else {})},
            "spec": {"width": 240, "height": 240,
                     "mark": {"type": "image", "width": 240, "height": 240, "aspect": True, "align": "center",
                              "baseline": "middle"},
                     "encoding": {"url": {"field": "url", "type": "nominal"},
                                  "x": {"value": 120}, "y": {"value": 120},
                                  "tooltip": [{"field": "rev", "title": "experiment"},
                                              {"field": "series", "title": "file"}]}}}
