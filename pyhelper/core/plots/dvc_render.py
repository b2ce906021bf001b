"""DVC's Vega templates filled as dvc-render 1.0.2 fills them, for `xp plots show/diff --json/--show-vega`.

The templates are DVC's own (pyhelper/plots_assets/dvc-templates.json, vendored from dvc-render by
scripts/vendor-dvc-templates.py, Apache-2.0). A template holds anchors, strings such as
`<DVC_METRIC_DATA>`, which are replaced by values: a string equal to an anchor becomes the value,
a string containing one has it replaced (when the value is a string too). Which anchors are filled
and with what follows dvc-render's VegaRenderer step for step, so the spec is the one DVC prints.
"""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

from pyhelper.errors import BadInput

ASSETS = Path(__file__).resolve().parent.parent.parent / "plots_assets"

FIELD_SEPARATOR = "::"
FILENAME_FIELD = ["filename", "field"]
CONCAT_FIELDS = FIELD_SEPARATOR.join(FILENAME_FIELD)
SPLIT_ANCHORS = ["color", "data", "plot_height", "plot_width", "shape", "stroke_dash", "title", "tooltip",
                 "x_label", "y_label", "zoom_and_pan"]
OPTIONAL_ANCHORS = ["color", "column", "group_by_x", "group_by_y", "group_by", "pivot_field", "plot_height",
                    "plot_width", "row", "shape", "stroke_dash", "tooltip", "zoom_and_pan"]
RANGES: dict[str, list[Any]] = {
    "stroke_dash": [[1, 0], [8, 8], [8, 4], [4, 4], [4, 2], [2, 1], [1, 1]],
    "color": ["#945dd6", "#13adc7", "#f46837", "#48bb78", "#4299e1", "#ed8936", "#f56565"],
    "shape": ["circle", "square", "triangle", "diamond"],
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".gif", ".png", ".svg")
"""dvc-render's ImageRenderer.EXTENSIONS (case-sensitive there, so here)."""


@cache
def builtin() -> dict[str, dict[str, Any]]:
    """DVC's built-in templates by name, in dvc-render's order."""
    data = json.loads((ASSETS / "dvc-templates.json").read_text(encoding="utf-8"))
    return dict(data["templates"])


def anchor(name: str) -> str:
    """The anchor string of `name` (`data` → `<DVC_METRIC_DATA>`)."""
    return f"<DVC_METRIC_{name.upper()}>"


def load_template(name: str | None, templates_dir: Path | None, cwd: Path) -> dict[str, Any]:
    """A template as DVC's get_template finds it: a file in .dvc/plots/ (with or without .json), a file
    path, else a built-in name; `BadInput` naming it otherwise."""
    name = name or "linear"
    candidates = ([templates_dir / name, (templates_dir / name).with_suffix(".json")] if templates_dir else [])
    candidates.append(cwd / name)
    for path in candidates:
        if path.is_file():
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadInput(f"{path}: the template is not JSON ({exc})",
                               hint="fix the file, or name one of DVC's templates") from None
            if not isinstance(content, dict):
                raise BadInput(f"{path}: a template must be a JSON object (a Vega-Lite spec)",
                               hint="fix the file, or name one of DVC's templates")
            return content
    if name in builtin():
        return builtin()[name]
    raise BadInput(f"Template '{name}' not found.", hint=f"use one of: {', '.join(builtin())}, or a template file")


def _replace(value: Any, name: str, new: Any) -> Any:
    """dvc-render's dict_replace_value/list_replace_value: `name` replaced by `new` wherever it stands."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str):
                if item == name:
                    out[key] = new
                    continue
                if name in item and isinstance(new, str):
                    item = item.replace(name, new)
            elif isinstance(item, (dict, list)):
                item = _replace(item, name, new)
            out[key] = item
        return out
    # In a list only whole strings are replaced (dvc-render's list_replace_value).
    return [new if isinstance(item, str) and item == name
            else _replace(item, name, new) if isinstance(item, (dict, list)) else item for item in value]


def _has(value: Any, name: str) -> bool:
    """dvc-render's find_value: a dict value (or an item of a list inside one) equal to `name`."""
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, dict) and _has(item, name):
                return True
            if isinstance(item, str) and item == name:
                return True
            if isinstance(item, list) and any(_has(e, name) for e in item):
                return True
    return isinstance(value, str) and value == name


def _escape(value: str) -> str:
    for character in (".", "[", "]"):
        value = value.replace(character, "\\" + character)
    return value


class VegaPlot:
    """One plot's datapoints and properties, filled into its template as dvc-render's VegaRenderer does."""

    def __init__(self, datapoints: list[dict[str, Any]], name: str, template: dict[str, Any],
                 properties: dict[str, Any]):
        self.datapoints = datapoints
        self.name = name
        self.properties = dict(properties)
        self.content = template
        self.split: dict[str, Any] = {}

    def revisions(self) -> list[str]:
        """The revisions with datapoints, in order."""
        found = self.properties.get("revs_with_datapoints") or []
        if found:
            return list(found)
        for point in self.datapoints:
            rev = point.get("rev")
            if rev and rev not in found:
                found.append(rev)
        return found

    def _fill(self, name: str, value: Any) -> None:
        self.content = _replace(self.content, anchor(name), value)

    def filled(self, split_anchors: list[str] | None = None) -> dict[str, Any]:
        """The spec with every anchor filled; those in `split_anchors` are left and kept in `self.split`."""
        if not self.datapoints:
            return {}
        split_anchors = split_anchors or []
        for axis in ("x", "y"):
            field = self.properties.get(axis)
            if field and not any(field in row for row in self.datapoints):
                raise BadInput(f"Field '{field}' does not exist in provided data.",
                               hint=f"plot '{self.name}': name a field its files have (-{axis} or dvc.yaml)")
        self.properties.setdefault("title", "")
        self.properties.setdefault("x_label", self.properties.get("x"))
        self.properties.setdefault("y_label", self.properties.get("y"))
        self.properties.setdefault("data", self.datapoints)
        varied = self._optional_anchors(split_anchors)
        self._update_datapoints(varied)
        for name in ("title", "x", "y", "x_label", "y_label", "data"):
            value = self.properties.get(name)
            if value is None:
                continue
            if name in split_anchors:
                self.split[anchor(name)] = value
                continue
            if name == "data" and not _has(self.content, anchor(name)):
                raise BadInput(f"plot '{self.name}': its template is not using '{anchor(name)}' anchor",
                               hint="put \"values\": \"<DVC_METRIC_DATA>\" in the template's data")
            if name in ("x", "y"):
                value = _escape(value)
            self._fill(name, value)
        return self.content

    def _optional(self, split_anchors: list[str], present: list[str], name: str, value: Any) -> None:
        if name not in present:
            return
        present.remove(name)
        if name in split_anchors:
            self.split[anchor(name)] = value
        else:
            self._fill(name, value)

    def _mapping(self, split_anchors: list[str], present: list[str], field: str, name: str,
                 domain: list[str]) -> None:
        if name not in present:
            return
        values = RANGES.get(name, [])
        chosen = [values[i % len(values)] for i in range(len(domain))] if values else []
        legend = {} if name == "color" else {
            "legend": {"symbolFillColor": "transparent", "symbolStrokeColor": "grey"}}
        self._optional(split_anchors, present, name,
                       {"field": field, "scale": {"domain": domain, "range": chosen}, **legend})

    def _group_by(self, split_anchors: list[str], present: list[str], group_by: list[str]) -> None:
        self._optional(split_anchors, present, "group_by", group_by)
        self._optional(split_anchors, present, "group_by_x", [*group_by, self.properties.get("x")])
        self._optional(split_anchors, present, "group_by_y", [*group_by, self.properties.get("y")])

    def _tooltip(self, split_anchors: list[str], present: list[str], more: list[str]) -> None:
        self._optional(split_anchors, present, "tooltip",
                       [{"field": "rev"}, {"field": self.properties.get("x")}, {"field": self.properties.get("y")},
                        *[{"field": field} for field in more]])

    def _optional_anchors(self, split_anchors: list[str]) -> list[str] | None:
        present = [name for name in OPTIONAL_ANCHORS if _has(self.content, anchor(name))]
        if not present:
            return None
        self._mapping(split_anchors, present, "rev", "color", self.revisions())
        for name, value in (("zoom_and_pan", {"name": "grid", "select": "interval", "bind": "scales"}),
                            ("plot_height", 300), ("plot_width", 300)):
            self._optional(split_anchors, present, name, value)
        y_definitions = self.properties.get("anchors_y_definitions", [])
        if len(y_definitions) <= 1:
            self._group_by(split_anchors, present, ["rev"])
            self._optional(split_anchors, present, "pivot_field", "datum.rev")
            self._tooltip(split_anchors, present, [])
            for name in list(present):
                self._fill(name, {})
            return []
        values: defaultdict[str, set[str]] = defaultdict(set)
        for definition in y_definitions:
            for key in FILENAME_FIELD:
                values[key].add(definition.get(key))
            values[CONCAT_FIELDS].add(FIELD_SEPARATOR.join([definition.get("filename", ""),
                                                            definition.get("field", "")]))
        varied = [key for key in FILENAME_FIELD if len(values[key]) != 1]
        domain = sorted(values[CONCAT_FIELDS] if len(varied) == 2 else values[varied[0]])
        concat = FIELD_SEPARATOR.join(varied)
        self._group_by(split_anchors, present, ["rev", concat])
        self._optional(split_anchors, present, "pivot_field",
                       f" + '{FIELD_SEPARATOR}' + ".join(f"datum.{key}" for key in ["rev", *varied]))
        self._optional(split_anchors, present, "row", {"field": concat, "sort": []})
        self._optional(split_anchors, present, "column", {"field": concat, "sort": []})
        self._tooltip(split_anchors, present, [concat])
        for name in ("stroke_dash", "shape"):
            self._mapping(split_anchors, present, concat, name, domain)
        return varied

    def _update_datapoints(self, varied: list[str] | None) -> None:
        if varied is None:
            return
        concatenated = varied if len(varied) == 2 else []
        removed = varied if len(varied) == 2 else [key for key in FILENAME_FIELD if key not in varied]
        for point in self.datapoints:
            if concatenated:
                joined = FIELD_SEPARATOR.join(str(point.get(k)) for k in concatenated)
                point[FIELD_SEPARATOR.join(concatenated)] = joined
            for key in removed:
                point.pop(key, None)


def is_image(plot_id: str) -> bool:
    """dvc-render's ImageRenderer.matches: the id's suffix is an image's."""
    return posixpath.splitext(plot_id)[1] in IMAGE_SUFFIXES
