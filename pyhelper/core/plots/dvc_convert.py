"""A plot's file contents → DVC's datapoints, as dvc.render.converter (DVC 3.67.1) makes them.

Every record of every y file becomes a datapoint carrying the file's fields, the revision (`rev`),
the file (`filename`, shortened by the y files' common folder) and the y field (`field`); x is
`step` (the record's index) unless a field is named. Several y fields become `dvc_inferred_y_value`,
several x fields `dvc_inferred_x_value`. DVC's messages are kept word for word, as its JSON shows them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

INDEX = "step"


class ConvertError(Exception):
    """A plot's data that cannot be drawn; `dvc_type` is the class DVC raises for it."""

    def __init__(self, message: str, dvc_type: str = "DvcException"):
        super().__init__(message)
        self.dvc_type = dvc_type


def _lists(blob: Any) -> Any:
    if isinstance(blob, list):
        yield blob
    elif isinstance(blob, dict):
        for value in blob.values():
            if isinstance(value, dict):
                yield from _lists(value)
            elif isinstance(value, list):
                yield value


def _file_field(*axes: Any) -> Any:
    for axis in axes:
        if axis is not None:
            for file, value in axis.items():
                if isinstance(value, str):
                    yield file, value
                elif isinstance(value, list):
                    for item in value:
                        yield file, item


def _is_datapoints(items: list[Any]) -> bool:
    if not all(isinstance(item, dict) for item in items):
        return False
    # DVC reads the first item's keys unguarded: an empty list fails there, and so it does here.
    first = items[0] if items else None
    return set(first.keys()) == {key for keys in items for key in keys}  # type: ignore[union-attr]


def get_datapoints(content: Any) -> list[dict[str, Any]]:
    """The records of a file's lists of records, merged index by index (DVC's get_datapoints)."""
    result: list[dict[str, Any]] = []
    for items in _lists(content):
        if _is_datapoints(items):
            for index, point in enumerate(items):
                if len(result) <= index:
                    result.append({})
                result[index].update(point)
    return result


def _verify(file2points: dict[str, list[dict[str, Any]]], filename: str, field: str) -> None:
    if filename in file2points:
        points = file2points[filename]
        first = points[0] if points else None
        if first is None or field not in first:
            found = ", ".join(first.keys()) if first else ""
            raise ConvertError(f"Could not find provided field ('{field}') in data fields ('{found}').",
                               "FieldNotFoundError")


def _infer_y(plot_id: str, data: dict[str, Any]) -> dict[str, str] | None:
    if plot_id in data:
        for items in _lists(data[plot_id]):
            if all(isinstance(item, dict) for item in items):
                first = items[0] if items else None
                if first is None:
                    raise ConvertError("'NoneType' object has no attribute 'keys'", "AttributeError")
                return {plot_id: list(first.keys())[-1]} if first else {plot_id: None}  # type: ignore[dict-item]
    return None


def _infer_x_y(plot_id: str, properties: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    x, y = properties.get("x"), properties.get("y")
    inferred: dict[str, Any] = {}
    if isinstance(x, str):
        inferred["x"] = {}
        if isinstance(y, dict):
            for file, fields in y.items():
                inferred["x"][file] = [x] * len(fields) if isinstance(fields, list) else x
        else:
            inferred["x"][plot_id] = x
    if y is None:
        inferred["y"] = _infer_y(plot_id, data)
    elif not isinstance(y, dict):
        inferred["y"] = {plot_id: y}
    return inferred


def _y_label(properties: dict[str, Any]) -> Any:
    if properties.get("y_label") is not None:
        return properties["y_label"]
    y = properties.get("y")
    if isinstance(y, str):
        return y
    if isinstance(y, list):
        return "y"
    if not isinstance(y, dict):
        return None
    fields = list(dict.fromkeys(field for _, field in _file_field(y)))
    return fields[0] if len(fields) == 1 else "y"


def _x_label(properties: dict[str, Any]) -> Any:
    if properties.get("x_label") is not None:
        return properties["x_label"]
    x = properties.get("x")
    if not isinstance(x, dict):
        return INDEX
    fields = list(dict.fromkeys(field for _, field in _file_field(x)))
    return fields[0] if len(fields) == 1 else "x"


def _short(y_file: str, prefix: int) -> str:
    return y_file[prefix:].strip("/\\")


def _copy_field(target: list[dict[str, Any]], field: str, source: list[dict[str, Any]] | None = None,
                source_field: str | None = None) -> None:
    source = target if source is None else source
    source_field = field if source_field is None else source_field
    if len(source) != len(target):
        raise IndexError("Source and target datapoints must have the same length")
    for index, point in enumerate(target):
        if source_field in source[index]:
            point[field] = source[index][source_field]


def flat_datapoints(plot_id: str, data: dict[str, Any], props: dict[str, Any],
                    revision: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """DVC's VegaConverter.flat_datapoints: the datapoints of one revision and the plot's properties."""
    properties = props | _infer_x_y(plot_id, props, data)
    properties["y_label"] = _y_label(properties)
    properties["x_label"] = _x_label(properties)
    file2points = {file: get_datapoints(content) for file, content in data.items()}
    update: dict[str, Any] = {}
    xs = []
    x = properties.get("x")
    if isinstance(x, dict):
        for file, field in _file_field(x):
            _verify(file2points, file, field)
            xs.append((file, field))
    x_file, x_field = xs[0] if xs else (None, INDEX)
    several_x = len(xs) > 1 and len({f for _, f in xs}) > 1
    update["x"] = "dvc_inferred_x_value" if several_x else x_field
    ys = []
    if properties.get("y") is not None:
        for file, field in _file_field(properties["y"]):
            _verify(file2points, file, field)
            ys.append((file, field))
    if len(xs) > 1 and len(xs) != len(ys):
        raise ConvertError("Cannot have different number of x and y data sources. Found "
                           f"{len(xs)} x and {len(ys)} y data sources.")
    y_files = list(dict.fromkeys(f for f, _ in ys))
    y_fields = list(dict.fromkeys(f for _, f in ys))
    update["y"] = "dvc_inferred_y_value" if len(y_fields) > 1 else (y_fields[0] if y_fields else None)
    prefix = len(os.path.commonpath(y_files)) if len(y_files) > 1 else 0
    update["anchors_y_definitions"] = [{"filename": _short(f, prefix), "field": field} for f, field in ys]
    points: list[dict[str, Any]] = []
    for i, (y_file, y_field) in enumerate(ys):
        if len(xs) > 1:
            x_file, x_field = xs[i]
        chunk = [dict(point) for point in file2points.get(y_file, [])]
        if update["y"] == "dvc_inferred_y_value":
            _copy_field(chunk, "dvc_inferred_y_value", source_field=y_field)
        if x_field == INDEX and x_file is None:
            for index, point in enumerate(chunk):
                point[INDEX] = index
        else:
            try:
                _copy_field(chunk, "dvc_inferred_x_value" if several_x else x_field,
                            file2points.get(x_file or "", []), x_field)
            except IndexError:
                raise ConvertError(f"Cannot join '{x_field}' from '{x_file}' and '{y_field}' from '{y_file}'. "
                                   "They have to have same length.") from None
        for point in chunk:
            point.update({"rev": revision, "filename": _short(y_file, prefix), "field": y_field})
        points.extend(chunk)
    if not points:
        return [], {}
    return points, properties | update


def image_datapoints(data: dict[str, Any], props: dict[str, Any], revision: str,
                     out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """DVC's ImageConverter with an output folder: each image written as `{rev}_{file}`, its path the `src`."""
    from pyhelper.core.plots.dvc_json import image_name
    from pyhelper.core.storage.atomic_write import write_atomic

    points = []
    for filename, raw in data.items():
        out.mkdir(parents=True, exist_ok=True)
        path = out.resolve() / image_name(revision, filename)
        write_atomic(path, raw)
        points.append({"rev": revision, "filename": filename, "src": str(path)})
    return points, props
