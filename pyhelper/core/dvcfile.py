"""Reading `dvc.yaml` as DVC 3 does: stages, `vars`, `${...}`, `foreach`/`do`, `matrix`.

The result is a `Pipeline` of plain `Stage` values. Every mistake is a `PipelineError` naming
dvc.yaml, the line, and the fix; line numbers are looked up only when an error needs one.
"""

from __future__ import annotations

import itertools
import posixpath
from pathlib import Path
from typing import Any

from pyhelper.core import interpolation
from pyhelper.core.stage import Out, ParamsDep, Pipeline, Stage
from pyhelper.errors import PipelineError, did_you_mean

TOP_KEYS = ("stages", "vars", "params", "metrics", "plots", "artifacts", "datasets")
STAGE_KEYS = (
    "cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
    "always_changed", "meta", "desc", "vars", "foreach", "do", "matrix",
)
OUT_KEYS = ("cache", "persist", "desc", "remote", "push", "type", "labels", "meta")
PLOT_KEYS = ("x", "y", "template", "title", "x_label", "y_label")
JOIN = "@"


class _Reader:
    """Turns the parsed dvc.yaml into stages; keeps the text to find lines for errors."""

    def __init__(self, root: Path, text: str, display: str):
        self.root = root
        self.text = text
        self.display = display
        self._context: dict[str, Any] | None = None

    def error(self, message: str, keys: list[str | int], hint: str) -> PipelineError:
        """A PipelineError pointing at the node found at `keys` in dvc.yaml."""
        from pyhelper.core.yamlfile import line_of

        return PipelineError(message, hint=hint, path=self.display, line=line_of(self.text, keys))

    # -- interpolation context ------------------------------------------------------------
    def context(self, data: dict[str, Any]) -> dict[str, Any]:
        """Global variables: params.yaml (as DVC loads it by default), then `vars` entries."""
        if self._context is not None:
            return self._context
        from pyhelper.core.params import load_params

        context: dict[str, Any] = {}
        default = self.root / "params.yaml"
        if default.is_file():
            context.update(load_params(default, display="params.yaml"))
        for index, entry in enumerate(data.get("vars") or []):
            context.update(self._vars_entry(entry, ["vars", index], "."))
        self._context = context
        return context

    def _vars_entry(self, entry: Any, keys: list[str | int], wdir: str) -> dict[str, Any]:
        """One `vars` item: an inline mapping, or `file[:key,key]` to load from a params file."""
        from pyhelper.core.params import get_value, load_params, missing_key_error

        if isinstance(entry, dict):
            return entry
        if not isinstance(entry, str):
            raise self.error("a `vars` item must be a mapping or a file name", keys,
                             "write `- name: value` or `- params.yaml`")
        file, _, wanted = entry.partition(":")
        rel = posixpath.normpath(posixpath.join(wdir, file))
        values = load_params(self.root / rel, display=rel)
        if not wanted:
            return values
        picked: dict[str, Any] = {}
        for key in (k.strip() for k in wanted.split(",") if k.strip()):
            try:
                value = get_value(values, key)
            except KeyError:
                raise missing_key_error(key, values, display=rel) from None
            node = picked
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return picked

    def resolve(self, value: Any, context: dict[str, Any], keys: list[str | int]) -> Any:
        """Interpolates `value`, turning an undefined name into an error at `keys`."""
        try:
            return interpolation.resolve(value, context)
        except interpolation.Undefined as exc:
            raise self.error(
                f"'${{{exc.name}}}' is not defined", keys,
                f"define '{exc.name}' under `vars:` in dvc.yaml or in params.yaml",
            ) from None
        except interpolation.NotText as exc:
            raise self.error(
                f"'${{{exc.name}}}' is a mapping or list and cannot be part of a string", keys,
                "interpolate a single value (e.g. ${name.key}) instead",
            ) from None

    # -- stages -------------------------------------------------------------------------------
    def stages(self, data: dict[str, Any]) -> dict[str, Stage]:
        """Every stage, expanded, in file order."""
        raw = data.get("stages") or {}
        if not isinstance(raw, dict):
            raise self.error("`stages` must be a mapping of stage names to definitions", ["stages"],
                             "write `stages:` followed by indented `name:` entries")
        out: dict[str, Stage] = {}
        for name, definition in raw.items():
            keys: list[str | int] = ["stages", name]
            if not isinstance(definition, dict):
                raise self.error(f"stage '{name}' must be a mapping", keys,
                                 "give the stage at least a `cmd:`")
            for key in definition:
                if key not in STAGE_KEYS:
                    suggestion = did_you_mean(str(key), list(STAGE_KEYS))
                    raise self.error(
                        f"stage '{name}' has an unknown key '{key}'", keys + [key],
                        suggestion or f"valid keys are: {', '.join(STAGE_KEYS)}",
                    )
            for stage in self._expand(str(name), definition, data, keys):
                if stage.name in out:
                    raise self.error(f"stage '{stage.name}' is defined twice", keys,
                                     "give each stage a unique name")
                out[stage.name] = stage
        return out

    def _expand(self, name: str, definition: dict[str, Any], data: dict[str, Any],
                keys: list[str | int]) -> list[Stage]:
        """`foreach`/`do` and `matrix` generate several stages; a plain stage is one."""
        needs_context = interpolation.has_interpolation(definition)
        context = dict(self.context(data)) if needs_context else {}
        if needs_context:
            wdir = definition.get("wdir", ".")
            for index, entry in enumerate(definition.get("vars") or []):
                context.update(self._vars_entry(entry, keys + ["vars", index], str(wdir)))
        if "foreach" in definition:
            if "do" not in definition:
                raise self.error(f"stage '{name}' has `foreach` but no `do`", keys,
                                 "put the stage's definition under `do:`")
            items = self.resolve(definition["foreach"], context, keys + ["foreach"])
            if isinstance(items, dict):
                pairs = [(str(k), {"key": k, "item": v}) for k, v in items.items()]
            elif isinstance(items, list):
                composite = any(isinstance(v, (dict, list)) for v in items)
                pairs = [(str(i) if composite else str(v), {"key": i, "item": v}) for i, v in enumerate(items)]
            else:
                raise self.error(f"`foreach` of stage '{name}' must be a list or a mapping",
                                 keys + ["foreach"], "write a list or a mapping, or a ${var} holding one")
            return [
                self._stage(f"{name}{JOIN}{key}", definition["do"], {**context, **extra}, keys + ["do"])
                for key, extra in pairs
            ]
        if "matrix" in definition:
            matrix = self.resolve(definition["matrix"], context, keys + ["matrix"])
            if not isinstance(matrix, dict) or not matrix:
                raise self.error(f"`matrix` of stage '{name}' must be a mapping of names to lists",
                                 keys + ["matrix"], "write e.g. `matrix: {model: [a, b], seed: [1, 2]}`")
            dims: list[list[tuple[str, Any]]] = []
            for dim, values in matrix.items():
                if not isinstance(values, list):
                    raise self.error(f"matrix entry '{dim}' of stage '{name}' must be a list",
                                     keys + ["matrix", dim], f"write `{dim}: [value, value]`")
                dims.append([
                    (f"{dim}{i}" if isinstance(v, (dict, list)) else str(v), v) for i, v in enumerate(values)
                ])
            body = {k: v for k, v in definition.items() if k not in ("matrix", "vars")}
            stages = []
            for combo in itertools.product(*dims):
                item = {dim: value for dim, (_, value) in zip(matrix, combo)}
                key = "-".join(label for label, _ in combo)
                stages.append(self._stage(f"{name}{JOIN}{key}", body, {**context, "item": item}, keys))
            return stages
        body = {k: v for k, v in definition.items() if k != "vars"}
        return [self._stage(name, body, context, keys)]

    def _stage(self, name: str, definition: Any, context: dict[str, Any], keys: list[str | int]) -> Stage:
        """One concrete stage: interpolated, validated, normalised."""
        if not isinstance(definition, dict):
            raise self.error(f"stage '{name}' must be a mapping", keys, "give the stage at least a `cmd:`")
        if context and interpolation.has_interpolation(definition):
            definition = self.resolve(definition, context, keys)
        for key in definition:
            if key not in STAGE_KEYS or key in ("foreach", "matrix", "do"):
                suggestion = did_you_mean(str(key), list(STAGE_KEYS))
                raise self.error(f"stage '{name}' has an unknown key '{key}'", keys + [key],
                                 suggestion or f"valid keys are: {', '.join(STAGE_KEYS)}")
        cmd = definition.get("cmd")
        if isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd):
            cmd = tuple(cmd)
        elif not isinstance(cmd, str) or not cmd.strip():
            raise self.error(f"stage '{name}' has no command", keys,
                             "add `cmd: <the shell command that runs this stage>`")
        wdir = definition.get("wdir", ".")
        if not isinstance(wdir, str):
            raise self.error(f"`wdir` of stage '{name}' must be a path", keys + ["wdir"], "write a relative path")
        wdir = self._inside_repo(wdir, name, keys + ["wdir"])
        deps = []
        for index, dep in enumerate(definition.get("deps") or []):
            if not isinstance(dep, str):
                raise self.error(f"a dependency of stage '{name}' is not a path", keys + ["deps", index],
                                 "list dependencies as paths, e.g. `- src/train.py`")
            self._inside_repo(posixpath.join(wdir, dep), name, keys + ["deps", index])
            deps.append(dep)
        outs: list[Out] = []
        for kind in ("outs", "metrics", "plots"):
            for index, item in enumerate(definition.get(kind) or []):
                out = self._out(item, kind, name, keys + [kind, index])
                self._inside_repo(posixpath.join(wdir, out.path), name, keys + [kind, index])
                outs.append(out)
        return Stage(
            name=name,
            cmd=cmd,
            wdir=wdir,
            deps=tuple(deps),
            params=self._params(definition.get("params") or [], name, keys + ["params"]),
            outs=tuple(outs),
            always_changed=bool(definition.get("always_changed", False)),
            frozen=bool(definition.get("frozen", False)),
            line=None,
        )

    def _out(self, item: Any, kind: str, stage: str, keys: list[str | int]) -> Out:
        """One output entry: `path` or `{path: {cache: .., persist: .., x: ..}}`."""
        if isinstance(item, str):
            return Out(path=item, kind=kind)
        if isinstance(item, dict) and len(item) == 1:
            (path, props), = item.items()
            props = props or {}
            if not isinstance(props, dict):
                raise self.error(f"the options of output '{path}' in stage '{stage}' must be a mapping",
                                 keys, "write e.g. `- model.pkl: {cache: false}`")
            allowed = OUT_KEYS + (PLOT_KEYS if kind == "plots" else ())
            for key in props:
                if key not in allowed:
                    suggestion = did_you_mean(str(key), list(allowed))
                    raise self.error(f"output '{path}' of stage '{stage}' has an unknown option '{key}'",
                                     keys + [path, key], suggestion or f"valid options: {', '.join(allowed)}")
            plot = {k: props[k] for k in PLOT_KEYS if k in props}
            return Out(path=str(path), kind=kind, cache=bool(props.get("cache", True)),
                       persist=bool(props.get("persist", False)), plot=plot)
        raise self.error(f"an entry of `{kind}` in stage '{stage}' is not a path", keys,
                         "write `- path` or `- path: {cache: false}`")

    def _params(self, items: Any, stage: str, keys: list[str | int]) -> tuple[ParamsDep, ...]:
        """`params:` entries: keys of params.yaml, or `file: [keys]`, or `file:` for a whole file."""
        if not isinstance(items, list):
            raise self.error(f"`params` of stage '{stage}' must be a list", keys,
                             "write `params:` followed by `- key` lines")
        by_file: dict[str, list[str]] = {}
        whole: set[str] = set()
        for index, item in enumerate(items):
            if isinstance(item, str):
                by_file.setdefault("params.yaml", []).append(item)
            elif isinstance(item, dict):
                for file, file_keys in item.items():
                    if file_keys in (None, []):
                        whole.add(str(file))
                        by_file.setdefault(str(file), [])
                    elif isinstance(file_keys, list) and all(isinstance(k, str) for k in file_keys):
                        by_file.setdefault(str(file), []).extend(file_keys)
                    else:
                        raise self.error(f"params of '{file}' in stage '{stage}' must be a list of keys",
                                         keys + [index, file], "write `- file.yaml: [key, other.key]`")
            else:
                raise self.error(f"a `params` entry of stage '{stage}' is not a key", keys + [index],
                                 "write `- key` or `- file.yaml: [key]`")
        return tuple(
            ParamsDep(file=file, keys=() if file in whole else tuple(dict.fromkeys(file_keys)))
            for file, file_keys in by_file.items()
        )

    def _inside_repo(self, path: str, stage: str, keys: list[str | int]) -> str:
        """Normalises a path and rejects absolute paths and paths that leave the repository."""
        if posixpath.isabs(path) or Path(path).is_absolute():
            raise self.error(f"path '{path}' in stage '{stage}' is absolute", keys,
                             "use a path relative to the repository (outputs must live inside it)")
        normal = posixpath.normpath(path)
        if normal == ".." or normal.startswith("../"):
            raise self.error(f"path '{path}' in stage '{stage}' is outside the repository", keys,
                             "keep every path inside the repository")
        return normal


def read_pipeline(root: Path, *, display: str = "dvc.yaml") -> Pipeline:
    """The pipeline declared by `<root>/dvc.yaml` (an empty pipeline when there is none)."""
    from pyhelper.core.yamlfile import parse_yaml

    path = root / display
    if not path.is_file():
        return Pipeline(stages={})
    text = path.read_text(encoding="utf-8")
    data = parse_yaml(text, path=display, error=PipelineError)
    reader = _Reader(root, text, display)
    if data is None:
        return Pipeline(stages={})
    if not isinstance(data, dict):
        raise PipelineError("dvc.yaml must be a mapping with a `stages:` section",
                            hint="start the file with `stages:`", path=display, line=1)
    for key in data:
        if key not in TOP_KEYS:
            suggestion = did_you_mean(str(key), list(TOP_KEYS))
            raise reader.error(f"unknown top-level key '{key}'", [key],
                               suggestion or f"valid keys are: {', '.join(TOP_KEYS)}")
    stages = reader.stages(data)
    return Pipeline(
        stages=stages,
        metrics=tuple(_top_files(data.get("metrics"))),
        params=tuple(_top_files(data.get("params"))),
        plots=tuple(data.get("plots") or ()),
    )


def _top_files(items: Any) -> list[str]:
    """Paths listed in a top-level `metrics:`/`params:` section."""
    files = []
    for item in items or []:
        if isinstance(item, str):
            files.append(posixpath.normpath(item))
        elif isinstance(item, dict):
            files.extend(posixpath.normpath(str(k)) for k in item)
    return files
