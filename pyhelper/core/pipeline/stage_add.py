"""`xp stage add` / `xp stage list`: write a stage into dvc.yaml as `dvc stage add` writes it, and list stages.

The new stage is serialised exactly as DVC 3 serialises it (keys in DVC's order, deps and outputs
sorted, params of params.yaml first, ruamel.yaml's block style), and the file is checked as a
whole before it is written: a name that exists, an output another stage writes, or a cycle are
errors and the file stays as it was.
"""

from __future__ import annotations

import io
import posixpath
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.project import Project
from pyhelper.core.storage.atomic_write import write_atomic
from pyhelper.errors import BadInput, PipelineError

if TYPE_CHECKING:
    from ruamel.yaml import YAML

    from pyhelper.core.pipeline.stage import Pipeline

INVALID_NAME_CHARS = set(string.punctuation) - {"_", "-"}


@dataclass(frozen=True)
class NewStage:
    """What `stage add` was asked for (paths as the user wrote them, relative to the dvc.yaml)."""

    name: str
    cmd: str
    deps: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    """`key,key` or `file:key,key` entries, as `-p` takes them."""
    outs: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Path → (section, flags): section `outs`, `metrics` or `plots`; flags `cache: false`, `persist: true`."""
    wdir: str = "."
    always_changed: bool = False
    desc: str = ""


def join_command(args: list[str]) -> str:
    """The command line as DVC joins `stage add`'s arguments (arguments with spaces quoted)."""
    def quote(arg: str) -> str:
        if not arg:
            return '""'
        if " " in arg and '"' not in arg:
            return f'"{arg}"'
        return arg

    return " ".join(args) if len(args) < 2 else " ".join(map(quote, args))


def serialise(stage: NewStage) -> dict[str, Any]:
    """The stage's dvc.yaml entry, keys and lists ordered as DVC's `to_pipeline_file` orders them."""
    params: list[Any] = []
    by_file: dict[str, list[str]] = {}
    for entry in stage.params:
        file, sep, keys = entry.rpartition(":")
        file = file if sep else "params.yaml"
        by_file.setdefault(file, []).extend(k for k in keys.split(",") if k)
    for file in sorted(by_file):
        names = sorted(dict.fromkeys(by_file[file]))
        if names and file == "params.yaml":
            params = names + params
        else:
            params.append({file: names or None})
    sections: dict[str, list[Any]] = {"outs": [], "metrics": [], "plots": []}
    for path in sorted(stage.outs):
        section, flags = stage.outs[path]
        sections[section].append({path: dict(flags)} if flags else path)
    fields = [
        ("desc", stage.desc),
        ("cmd", stage.cmd),
        ("wdir", stage.wdir if stage.wdir not in (".", "") else None),
        ("deps", sorted(stage.deps)),
        ("params", params),
        ("outs", sections["outs"]),
        ("metrics", sections["metrics"]),
        ("plots", sections["plots"]),
        ("always_changed", stage.always_changed),
    ]
    return {key: value for key, value in fields if value}


def add_stage(project: Project, folder: Path, stage: NewStage, *, force: bool = False) -> str:
    """Adds (or with `force` replaces) the stage in `folder/dvc.yaml`; returns that file's repository path."""
    from pyhelper.core.pipeline.graph import upstream

    if not stage.name or INVALID_NAME_CHARS & set(stage.name):
        raise BadInput(f"invalid stage name '{stage.name}'",
                       hint="use letters, digits, '_' and '-' only (DVC's rule)")
    if not stage.cmd.strip():
        raise BadInput("the stage has no command",
                       hint="put the command after the options: xp stage add -n NAME … python train.py")
    path = folder / "dvc.yaml"
    rel = project.rel(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    yaml = _dvc_yaml()
    data = yaml.load(text) if text.strip() else None
    if data is None:
        from ruamel.yaml.comments import CommentedMap

        data = CommentedMap()
    if not isinstance(data, dict):
        raise PipelineError(f"{rel} must be a mapping with a `stages:` section", path=rel, line=1,
                            hint="fix the file first (start it with `stages:`)")
    stages = data.setdefault("stages", {})
    if stage.name in stages and not force:
        raise PipelineError(f"stage '{stage.name}' already exists in {rel}", path=rel,
                            hint="choose another name, or use -f to overwrite it")
    stages[stage.name] = serialise(stage)
    out = io.StringIO()
    yaml.dump(data, out)
    new_text = out.getvalue()
    # The whole project, with the new file, must still be a valid pipeline before anything is written.
    checked = parsed_with(project, rel, new_text)
    upstream(checked, project.root)
    _check_cycles(checked, project.root)
    write_atomic(path, new_text)
    return rel


def _check_cycles(pipeline: Any, root: Path) -> None:
    from pyhelper.core.pipeline.graph import order

    order(pipeline, root, check=False)


def _dvc_yaml() -> YAML:
    """ruamel.yaml as DVC configures it for dvc.yaml (round trip, block style, default width)."""
    from ruamel.yaml import YAML


    yaml = YAML()
    yaml.default_flow_style = False
    return yaml


@dataclass(frozen=True)
class Listed:
    """One line of `stage list`."""

    address: str
    description: str


def list_stages(project: Project, targets: list[str] | None, *, all_files: bool, cwd: Path) -> list[Listed]:
    """Stages as `dvc stage list` lists them: of the dvc.yaml in `cwd` (or the targets), or every
    stage and `.dvc` file with `all_files`; described by their `desc` or their outputs."""
    from pyhelper.core.pipeline.graph import resolve_targets

    pipeline = project.pipeline()
    if all_files:
        names = list(pipeline.stages)
        data = list(pipeline.data)
    elif targets:
        names = resolve_targets(pipeline, targets)
        data = []
    else:
        here = project.rel(cwd / "dvc.yaml")
        names = [n for n, s in pipeline.stages.items() if s.dvcfile == here]
        data = []
    found = []
    for name in names:
        found.append(Listed(name, describe(pipeline.stages[name])))
    for file in data:
        shown = posixpath.relpath(file.path, pipeline.sub) if pipeline.sub else file.path
        outs = [o.written for o in file.outs]
        found.append(Listed(shown, _truncate("Outputs " + ", ".join(outs)) if outs else "No outputs or dependencies"))
    return found


def describe(stage: Any) -> str:
    """DVC's generated description of a stage (`dvc stage list`), at most 80 characters."""
    deps = list(stage.deps) + [p.file for p in stage.params]
    if not deps and not stage.outs:
        return "No outputs or dependencies"
    if not stage.outs:
        return _truncate("Depends on " + ", ".join(deps))
    parts = []
    plain = [o.path for o in stage.outs if o.kind == "outs"]
    reports = [o.path for o in stage.outs if o.kind != "outs"]
    if plain:
        parts.append("Outputs " + ", ".join(plain))
    if reports:
        parts.append("Reports " + ", ".join(reports))
    return _truncate("; ".join(parts))


def _truncate(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parsed_with(project: Project, rel: str, new_text: str) -> Pipeline:
    """The project's pipeline as it would be with `new_text` in its dvc.yaml `rel` (a new file or an edited one):
    an edit that breaks the project raises here, before anything is written."""
    from pyhelper.core.pipeline.dvcfile import parse_pipeline

    pipeline = project.pipeline()
    files = list(pipeline.files) if rel in pipeline.files else [*pipeline.files, rel]

    def read(name: str) -> str | None:
        if name == rel:
            return new_text
        try:
            return (project.root / name).read_text(encoding="utf-8")
        except OSError:
            return None

    return parse_pipeline(read, files=files, sub=project.sub)
