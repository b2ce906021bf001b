"""Reading `dvc.yaml` as DVC 3 does: stages, `vars`, `${...}`, `foreach`/`do`, `matrix`.

The result is a `Pipeline` of plain `Stage` values. Every mistake is a `PipelineError` naming
dvc.yaml, the line of the offending key or entry, and the fix; line numbers are looked up only
when an error needs one.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyhelper.core.pipeline import interpolation
from pyhelper.core.pipeline.stage import Out, ParamsDep, Pipeline, Stage
from pyhelper.core.yamlio.yamlfile import text_of
from pyhelper.errors import PipelineError, did_you_mean

TOP_KEYS = ("stages", "vars", "params", "metrics", "plots", "artifacts", "datasets")
STAGE_KEYS = (
    "cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
    "always_changed", "meta", "desc", "vars", "foreach", "do", "matrix",
)
OUT_KEYS = ("cache", "persist", "desc", "remote", "push", "type", "labels", "meta")
OUT_BOOL_KEYS = ("cache", "persist", "push")
PLOT_KEYS = ("x", "y", "template", "title", "x_label", "y_label", "header")
JOIN = "@"

Keys = list[str | int]
FileReader = Callable[[str], "str | None"]
"""Gives a repository file's text (None when absent): from the disk, or from a git tree."""


class _Reader:
    """Turns the parsed dvc.yaml into stages; keeps the text to find lines for errors."""

    def __init__(self, read: FileReader, text: str, display: str, base: str = "."):
        self.read = read
        self.text = text
        self.display = display
        self.base = base
        """The dvc.yaml's folder, relative to the repository root: its paths are relative to it."""
        self._context: dict[str, Any] | None = None
        self.parsing: dict[str, str] = {}
        """`[parsing]` of .dvc/config: how a mapping unpacks into `cmd` (`bool`, `list`)."""

    def error(self, message: str, keys: Keys, hint: str) -> PipelineError:
        """A PipelineError pointing at the node found at `keys` in dvc.yaml."""
        from pyhelper.core.yamlio.yamlfile import line_of

        return PipelineError(message, hint=hint, path=self.display, line=line_of(self.text, keys))

    def unknown_key(self, what: str, key: Any, allowed: tuple[str, ...], keys: Keys) -> PipelineError:
        """The error for a misspelt key, suggesting the closest valid one."""
        suggestion = did_you_mean(str(key), list(allowed))
        return self.error(f"{what} has an unknown key '{key}'", keys,
                          suggestion or f"valid keys are: {', '.join(allowed)}")

    # -- interpolation context ------------------------------------------------------------
    def context(self, data: dict[str, Any]) -> dict[str, Any]:
        """Global variables: params.yaml (as DVC loads it by default), then `vars` entries."""
        if self._context is not None:
            return self._context
        context: dict[str, Any] = {}
        default = posixpath.normpath(posixpath.join(self.base, "params.yaml"))
        if self.read(default) is not None:
            context.update(self.load_params(default))
        context.update(self.vars(data.get("vars"), ["vars"], self.base))
        self._context = context
        return context

    def vars(self, entries: Any, keys: Keys, wdir: str) -> dict[str, Any]:
        """The variables a `vars:` list defines, later entries overriding earlier ones."""
        if entries is None:
            return {}
        self.check_vars(entries, keys)
        found: dict[str, Any] = {}
        for index, entry in enumerate(entries):
            found.update(self._vars_entry(entry, keys + [index], wdir))
        return found

    def load_params(self, rel: str) -> dict[str, Any]:
        """A params file of the same source (disk or git tree), parsed."""
        from pyhelper.core.values.params import parse_params
        from pyhelper.errors import ParamsError

        text = self.read(rel)
        if text is None:
            raise ParamsError("params file does not exist",
                              hint="create it, or fix the file name under `params:` in dvc.yaml", path=rel)
        return parse_params(text, suffix=posixpath.splitext(rel)[1].lower(), display=rel)

    def check_vars(self, entries: Any, keys: Keys) -> None:
        """The shape of a `vars:` list (checked even when no stage interpolates, as DVC does)."""
        if entries is None:
            return
        if not isinstance(entries, list):
            raise self.error("`vars` must be a list", keys,
                             "write each entry on its own `- ` line: `- name: value` or `- params.yaml`")
        for index, entry in enumerate(entries):
            if interpolation.has_interpolation(entry):
                raise self.error("`vars` cannot use ${...}", keys + [index],
                                 "write the values (or the file name) in full")
            if not isinstance(entry, (dict, str)):
                raise self.error("a `vars` item must be a mapping or a file name", keys + [index],
                                 "write `- name: value` or `- params.yaml`")

    def _vars_entry(self, entry: Any, keys: Keys, wdir: str) -> dict[str, Any]:
        """One `vars` item: an inline mapping, or `file[:key,key]` to load from a params file."""
        from pyhelper.core.values.params import get_value, missing_key_error, put_dotted
        from pyhelper.errors import ParamsError

        if isinstance(entry, dict):
            return entry
        if not isinstance(entry, str):
            raise self.error("a `vars` item must be a mapping or a file name", keys,
                             "write `- name: value` or `- params.yaml`")
        file, _, wanted = entry.partition(":")
        rel = posixpath.normpath(posixpath.join(wdir, file))
        try:
            values = self.load_params(rel)
        except ParamsError as exc:
            if exc.line is not None:
                raise  # A syntax error inside the file: point at it.
            raise self.error(f"cannot load `vars` file '{rel}': {exc.message}", keys,
                             "create it, or fix the file name under `vars:`"
                             + (f" (it is relative to the stage's wdir '{wdir}')" if wdir != "." else "")) from None
        if not wanted:
            return values
        picked: dict[str, Any] = {}
        for key in (k.strip() for k in wanted.split(",") if k.strip()):
            try:
                value = get_value(values, key)
            except KeyError:
                missing = missing_key_error(key, values, display=rel)
                raise self.error(f"`vars` asks for '{key}', which {rel} does not have", keys,
                                 missing.hint) from None
            put_dotted(picked, key, value)
        return picked

    def resolve(self, value: Any, context: dict[str, Any], keys: Keys) -> Any:
        """Interpolates `value`; an undefined name is an error at the exact key or entry holding it."""
        if isinstance(value, dict):
            return {self.resolve(k, context, keys + [k]): self.resolve(v, context, keys + [k])
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, context, keys + [i]) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        in_cmd = "cmd" in keys[-2:] and keys[:1] != ["vars"]
        try:
            return interpolation.resolve(value, context, unpack=self.parsing if in_cmd else None)
        except interpolation.Undefined as exc:
            close = did_you_mean(exc.name, _names(context))
            raise self.error(
                f"'${{{exc.name}}}' is not defined", keys,
                (close + " " if close else "")
                + f"define '{exc.name}' under `vars:` in dvc.yaml or in params.yaml, or write \\${{ for a literal ${{",
            ) from None
        except interpolation.NotText as exc:
            if keys[-1:] == ["cmd"] or keys[-2:-1] == ["cmd"]:
                raise self.error(
                    f"'${{{exc.name}}}' is a list and cannot be part of a command", keys,
                    "interpolate a mapping (it unpacks into --key value arguments) or a single value",
                ) from None
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
            keys: Keys = ["stages", name]
            if not isinstance(definition, dict):
                raise self.error(f"stage '{name}' must be a mapping", keys,
                                 "give the stage at least a `cmd:`")
            if JOIN in str(name):
                raise self.error(f"stage name '{name}' contains '{JOIN}'", keys,
                                 f"'{JOIN}' is reserved for stages that `foreach`/`matrix` generate; rename it")
            self._check_shape(str(name), definition, keys)
            for stage in self._expand(str(name), definition, data, keys):
                if stage.name in out:
                    raise self.error(f"stage '{stage.name}' is defined twice", keys,
                                     "give each stage a unique name")
                out[stage.name] = stage
        return out

    def _check_shape(self, name: str, definition: dict[str, Any], keys: Keys) -> None:
        """Keys of a stage as written: known, and `foreach`/`do`/`matrix` used as DVC allows."""
        for key in definition:
            if key not in STAGE_KEYS:
                raise self.unknown_key(f"stage '{name}'", key, STAGE_KEYS, keys + [key])
        if "foreach" in definition and "matrix" in definition:
            raise self.error(f"stage '{name}' has both `foreach` and `matrix`", keys + ["matrix"],
                             "use one of them: `matrix` already generates every combination")
        if "foreach" in definition:
            if "do" not in definition:
                raise self.error(f"stage '{name}' has `foreach` but no `do`", keys + ["foreach"],
                                 "put the stage's definition (cmd, deps, outs...) under `do:`")
            for key in definition:
                if key not in ("foreach", "do", "vars"):
                    raise self.error(f"`{key}` of stage '{name}' must go under `do:` (the stage has `foreach`)",
                                     keys + [key], f"indent `{key}:` under `do:`")
            body = definition["do"]
            allowed = tuple(k for k in STAGE_KEYS if k not in ("foreach", "matrix", "do"))
            for key in body if isinstance(body, dict) else ():
                if key not in allowed:
                    raise self.unknown_key(f"stage '{name}'", key, allowed, keys + ["do", key])
        elif "do" in definition:
            raise self.error(f"stage '{name}' has `do` but no `foreach`", keys + ["do"],
                             "add `foreach:` with the items to loop over, or move the definition up a level")

    def _expand(self, name: str, definition: dict[str, Any], data: dict[str, Any],
                keys: Keys) -> list[Stage]:
        """`foreach`/`do` and `matrix` generate several stages; a plain stage is one."""
        needs_context = interpolation.has_interpolation(definition)
        context = dict(self.context(data)) if needs_context else {}
        if "vars" in definition:
            wdir = definition.get("wdir", ".")
            if isinstance(wdir, str) and "${" in wdir:
                wdir = self.resolve(wdir, context, keys + ["wdir"])
            context.update(self.vars(definition["vars"], keys + ["vars"], posixpath.join(self.base, str(wdir))))
        if "foreach" in definition:
            items = self.resolve(definition["foreach"], context, keys + ["foreach"])
            if isinstance(items, dict):
                pairs = [(interpolation.to_text(k), {"key": interpolation.to_text(k), "item": v})
                         for k, v in items.items()]
            elif isinstance(items, list):
                composite = any(isinstance(v, (dict, list)) for v in items)
                # Names as DVC 3.67 gives them: the index for composite items, else str() of the item
                # (`build@True` for a boolean, while `matrix` writes `true`).
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
                    (f"{dim}{i}" if isinstance(v, (dict, list)) else interpolation.to_text(v), v)
                    for i, v in enumerate(values)
                ])
            body = {k: v for k, v in definition.items() if k not in ("matrix", "vars")}
            stages = []
            for combo in itertools.product(*dims):
                item = {dim: value for dim, (_, value) in zip(matrix, combo, strict=True)}
                key = "-".join(label for label, _ in combo)
                stages.append(self._stage(f"{name}{JOIN}{key}", body, {**context, "item": item, "key": key}, keys))
            return stages
        body = {k: v for k, v in definition.items() if k != "vars"}
        return [self._stage(name, body, context, keys)]

    def _stage(self, name: str, definition: Any, context: dict[str, Any], keys: Keys) -> Stage:
        """One concrete stage: interpolated, validated, normalised."""
        if not isinstance(definition, dict):
            raise self.error(f"stage '{name}' must be a mapping", keys, "give the stage at least a `cmd:`")
        if "vars" in definition:  # Only a `do:` body still holds its own `vars` here.
            wdir = definition.get("wdir", ".")
            if isinstance(wdir, str) and "${" in wdir:
                wdir = self.resolve(wdir, context, keys + ["wdir"])
            context = {**context, **self.vars(definition["vars"], keys + ["vars"],
                                              posixpath.join(self.base, str(wdir)))}
            definition = {k: v for k, v in definition.items() if k != "vars"}
        if interpolation.has_interpolation(definition):
            definition = self.resolve(definition, context, keys)
        for key in definition:
            if key not in STAGE_KEYS or key in ("foreach", "matrix", "do", "vars"):
                allowed = tuple(k for k in STAGE_KEYS if k not in ("foreach", "matrix", "do", "vars"))
                raise self.unknown_key(f"stage '{name}'", key, allowed, keys + [key])
        cmd = self._cmd(definition, name, keys)
        wdir = definition.get("wdir", ".")
        if not isinstance(wdir, str) or not wdir.strip():
            raise self.error(f"`wdir` of stage '{name}' must be a path", keys + ["wdir"],
                             "write a path relative to dvc.yaml, e.g. `wdir: src`")
        wdir = self._inside_repo(wdir, self.base, name, keys + ["wdir"])
        deps = []
        for index, dep in enumerate(self._list(definition, "deps", name, keys)):
            if not isinstance(dep, str) or not dep:
                raise self.error(f"a dependency of stage '{name}' is not a path", keys + ["deps", index],
                                 "list dependencies as paths, e.g. `- src/train.py`")
            # A dependency may live outside the repository (DVC's external dependency: hashed, never
            # written); outputs may not (see below).
            deps.append(dep)
        outs: list[Out] = []
        for kind in ("outs", "metrics", "plots"):
            for index, item in enumerate(self._list(definition, kind, name, keys)):
                # An output outside the repository is read as DVC reads it (status reports it); xp
                # refuses to run such a stage (`graph.check_inputs`): it never writes outside the project.
                outs.append(self._out(item, kind, name, keys + [kind, index]))
                self._check_out(outs[-1].path, wdir, name, keys + [kind, index])
        return Stage(
            name=name,
            cmd=cmd,
            wdir=wdir,
            deps=tuple(deps),
            params=self._params(definition.get("params"), name, keys + ["params"]),
            outs=tuple(outs),
            always_changed=self._flag(definition, "always_changed", name, keys),
            frozen=self._flag(definition, "frozen", name, keys),
            line=None,
        )

    def _cmd(self, definition: dict[str, Any], name: str, keys: Keys) -> str | tuple[str, ...]:
        """`cmd`: one command, or a list run one after the other."""
        if "cmd" not in definition or definition["cmd"] is None:
            raise self.error(f"stage '{name}' has no command", keys,
                             "add `cmd: <the shell command that runs this stage>`")
        cmd = definition["cmd"]
        if isinstance(cmd, str) and cmd.strip():
            return cmd
        if isinstance(cmd, list) and cmd:
            for index, item in enumerate(cmd):
                if not isinstance(item, str) or not item.strip():
                    raise self.error(f"command {index + 1} of stage '{name}' is not a shell command",
                                     keys + ["cmd", index], "write every item of `cmd:` as text (quote it if needed)")
            return tuple(cmd)
        raise self.error(f"`cmd` of stage '{name}' must be a command or a list of commands", keys + ["cmd"],
                         "write `cmd: python train.py` (or a list of such lines)")

    def _list(self, definition: dict[str, Any], key: str, name: str, keys: Keys) -> list[Any]:
        """A section that must be a list (`deps`, `outs`, `metrics`, `plots`); missing is empty."""
        items = definition.get(key)
        if items is None:
            return []
        if not isinstance(items, list):
            hint = "write one `- path` entry per line"
            if isinstance(items, str):
                hint = f"write `{key}: [{items}]`, or {hint}"
            raise self.error(f"`{key}` of stage '{name}' must be a list", keys + [key], hint)
        return items

    def _flag(self, definition: dict[str, Any], key: str, name: str, keys: Keys) -> bool:
        """A true/false option (`frozen`, `always_changed`)."""
        value = definition.get(key, False)
        if not isinstance(value, bool):
            raise self.error(f"`{key}` of stage '{name}' must be true or false, not {value!r}",
                             keys + [key], f"write `{key}: true` or `{key}: false` (without quotes)")
        return value

    def _out(self, item: Any, kind: str, stage: str, keys: Keys) -> Out:
        """One output entry: `path` or `{path: {cache: .., persist: .., x: ..}}`."""
        if isinstance(item, str) and item:
            return Out(path=item, kind=kind)
        if isinstance(item, dict) and len(item) == 1:
            (path, props), = item.items()
            props = props or {}
            if not isinstance(props, dict):
                raise self.error(f"the options of output '{path}' in stage '{stage}' must be a mapping",
                                 keys + [path], "write e.g. `- model.pkl: {cache: false}`")
            allowed = OUT_KEYS + (PLOT_KEYS if kind == "plots" else ())
            for key in props:
                if key not in allowed:
                    raise self.unknown_key(f"output '{path}' of stage '{stage}'", key, allowed, keys + [path, key])
                if key in OUT_BOOL_KEYS and not isinstance(props[key], bool):
                    raise self.error(f"option `{key}` of output '{path}' in stage '{stage}' must be true or false",
                                     keys + [path, key], f"write `{key}: false` (without quotes)")
            plot = {k: props[k] for k in PLOT_KEYS if k in props}
            return Out(path=str(path), kind=kind, cache=props.get("cache", True),
                       persist=props.get("persist", False), plot=plot)
        raise self.error(f"an entry of `{kind}` in stage '{stage}' is not a path", keys,
                         "write `- path` or `- path: {cache: false}`")

    def _check_out(self, path: str, wdir: str, stage: str, keys: Keys) -> None:
        """Refuses, as DVC does, an output xp would delete with the project in it: the folder holding this
        dvc.yaml (`.`, `..` from a subfolder), or a path in `.git/`, `.dvc/` or `.xp/`."""
        if posixpath.isabs(path) or Path(path).is_absolute():
            return  # Outside the repository: read, never run (`graph.check_inputs`).
        normal = posixpath.normpath(posixpath.join(wdir, path))
        parts = normal.split("/")
        if normal == "." or self.base == normal or self.base.startswith(normal + "/"):
            raise self.error(f"output '{path}' of stage '{stage}' is the folder holding {self.display}", keys,
                             "list the files or folders the command writes (running the stage deletes its "
                             "outputs first)")
        if any(part.casefold() in (".git", ".dvc") for part in parts) or parts[0].casefold() == ".xp":
            raise self.error(f"output '{path}' of stage '{stage}' is inside git's, DVC's or xp's own folder",
                             keys, "write outputs elsewhere in the project (running the stage deletes its "
                                   "outputs first)")

    def check_top_files(self, section: str, index: int, item: Any) -> None:
        """Refuses a file of the top-level `params`, `metrics` or `plots` outside the repository (or in
        `.git/`, `.xp/`): xp shows these files' contents, and DVC never reads them there either."""
        from pyhelper.core.inside import not_plain, plain_path

        files = [item] if isinstance(item, str) else []
        if isinstance(item, dict):
            for key, props in item.items():
                y = props.get("y") if isinstance(props, dict) else None
                files.extend([str(k) for k in y] if isinstance(y, dict) else [str(key)])
        for file in files:
            if not plain_path(posixpath.normpath(posixpath.join(self.base, file))):
                where = not_plain(posixpath.normpath(posixpath.join(self.base, file)))
                raise self.error(f"'{file}' in the top-level `{section}` is {where}", [section, index],
                                 f"xp reads {section} files only inside the repository (as DVC does): move the "
                                 "file into it, or remove the entry")

    def _params(self, items: Any, stage: str, keys: Keys) -> tuple[ParamsDep, ...]:
        """`params:` entries: keys of params.yaml, or `file: [keys]`, or `file:` for a whole file."""
        if items is None:
            return ()
        if not isinstance(items, list):
            raise self.error(f"`params` of stage '{stage}' must be a list", keys,
                             "write `params:` followed by `- key` lines")
        by_file: dict[str, list[str]] = {}
        whole: set[str] = set()
        for index, item in enumerate(items):
            if isinstance(item, str) and item:
                by_file.setdefault("params.yaml", []).append(item)
            elif isinstance(item, dict):
                for file, file_keys in item.items():
                    if file_keys in (None, []):
                        whole.add(str(file))
                        by_file.setdefault(str(file), [])
                    elif isinstance(file_keys, list) and all(isinstance(k, str) and k for k in file_keys):
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

    def _inside_repo(self, path: str, wdir: str, stage: str, keys: Keys) -> str:
        """`path` (relative to `wdir`) as a normal repository path; absolute or outside paths are errors."""
        if posixpath.isabs(path) or Path(path).is_absolute():
            raise self.error(f"path '{path}' in stage '{stage}' is absolute", keys,
                             "use a path relative to dvc.yaml (every dependency and output lives in the repository)")
        normal = posixpath.normpath(posixpath.join(wdir, path))
        if normal == ".." or normal.startswith("../"):
            where = f" (with wdir '{wdir}')" if wdir != "." else ""
            raise self.error(f"path '{path}' in stage '{stage}' is outside the repository{where}", keys,
                             "keep every path inside the repository")
        return normal


def _names(context: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted name the context defines (for "did you mean")."""
    names: list[str] = []
    for key, value in context.items():
        name = f"{prefix}{key}"
        names.append(name)
        if isinstance(value, dict):
            names.extend(_names(value, name + "."))
    return names


def read_pipeline(root: Path, *, display: str = "dvc.yaml", sub: str | None = None) -> Pipeline:
    """The pipeline of every dvc.yaml of the project at `root` (its `.dvc` files too), as DVC collects them.

    `sub` is the DVC project's folder inside the repository (default: the one `root` holds, see
    `collect.project_sub`); an empty pipeline when there is no dvc.yaml.
    """
    from pyhelper.core.pipeline.collect import collect, project_sub

    if sub is None:
        sub = project_sub(root)
    found = collect(root, sub)

    def read(rel: str) -> str | None:
        try:
            return text_of(root / rel, rel)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    from pyhelper.core.pipeline.dvcdata import read_data_files

    return parse_pipeline(read, files=list(found.pipelines), sub=sub, data=tuple(read_data_files(root, found.data)),
                          parsing=found.parsing)


def parse_pipeline(read: FileReader, *, display: str = "dvc.yaml", files: list[str] | None = None,
                   sub: str = "", data: tuple[Any, ...] = (), parsing: dict[str, str] | None = None) -> Pipeline:
    """The pipeline in `files` (default: `display` alone) as `read` gives them (the disk, or a commit's tree).

    Each file's paths are relative to its own folder; stages are addressed as DVC addresses them.
    """
    stages: dict[str, Stage] = {}
    metrics: list[str] = []
    params: list[str] = []
    plots: tuple[Any, ...] = ()
    plots_by_file: list[tuple[str, tuple[Any, ...]]] = []
    names = list(files) if files is not None else [display]
    probe = Pipeline(stages={}, sub=sub)
    own = posixpath.join(sub, "dvc.yaml") if sub else "dvc.yaml"
    for file in names:
        one = _parse_file(read, file, parsing or {})
        if one is None:
            continue
        for name, stage in one.stages.items():
            address = probe.address(file, name)
            stages[address] = replace(stage, name=address, local_name=name if address != name else "",
                                      dvcfile=file)
        metrics.extend(one.metrics)
        params.extend(one.params)
        if one.plots:
            plots_by_file.append((posixpath.dirname(file) or ".", one.plots))
        if file == own or (files is None):
            plots = one.plots
    return Pipeline(stages=stages, metrics=tuple(metrics), params=tuple(params), plots=plots,
                    files=tuple(names), data=tuple(data), plots_by_file=tuple(plots_by_file), sub=sub)


def _parse_file(read: FileReader, display: str, parsing: dict[str, str]) -> Pipeline | None:
    """One dvc.yaml: its stages (by their own names), top-level files prefixed with its folder."""
    from pyhelper.core.yamlio.yamlfile import parse_yaml

    text = read(display)
    if text is None:
        return None
    data = parse_yaml(text, path=display, error=PipelineError)
    base = posixpath.dirname(display) or "."
    reader = _Reader(read, text, display, base)
    reader.parsing = parsing
    if data is None:
        return Pipeline(stages={})
    if not isinstance(data, dict):
        raise PipelineError(f"{display} must be a mapping with a `stages:` section",
                            hint="start the file with `stages:`", path=display, line=1)
    for key in data:
        if key not in TOP_KEYS:
            raise reader.unknown_key(display, key, TOP_KEYS, [key])
    for key in ("params", "metrics", "plots"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise reader.error(f"top-level `{key}` must be a list", [key], "write one `- file` entry per line")
        for index, item in enumerate(data.get(key) or []):
            reader.check_top_files(key, index, item)
    reader.check_vars(data.get("vars"), ["vars"])
    stages = reader.stages(data)
    return Pipeline(
        stages=stages,
        metrics=tuple(_top_files(data.get("metrics"), base)),
        params=tuple(_top_files(data.get("params"), base)),
        plots=tuple(data.get("plots") or ()),
    )


def source_line(root: Path, stage: str, *keys: str | int, value: str | None = None,
                display: str = "dvc.yaml") -> int | None:
    """The line in dvc.yaml of a stage, of a section in it (`"outs"`) or of an entry (`"outs", 0`).

    With `value`, the entry of that section written as `value` (a path, a params key or file) is
    preferred, wherever it sits. Generated stages (`name@key`) point into their `do:` body.
    Only called to build an error, so the slower line-aware parse happens only then.
    """
    from pyhelper.core.yamlio.yamlfile import line_of, line_of_scalar, load_roundtrip

    path = root / display
    try:
        doc = load_roundtrip(path)
        stages = doc["stages"]
    except Exception:
        return None
    base = stage if stage in stages else stage.split(JOIN)[0]
    definition = stages.get(base)
    if not hasattr(definition, "lc"):
        return None
    prefix: Keys = ["stages", base]
    if "do" in definition and hasattr(definition["do"], "lc"):
        prefix.append("do")
        definition = definition["do"]
    if value is not None and keys:
        found = line_of_scalar(definition.get(keys[0]), value)
        if found is not None:
            return found
    text = text_of(path)
    return line_of(text, prefix + list(keys))


def _top_files(items: Any, base: str = ".") -> list[str]:
    """Paths listed in a top-level `metrics:`/`params:` section (relative to the repository root)."""
    files = []
    for item in items or []:
        if isinstance(item, str):
            files.append(posixpath.normpath(posixpath.join(base, item)))
        elif isinstance(item, dict):
            files.extend(posixpath.normpath(posixpath.join(base, str(k))) for k in item)
    return files
