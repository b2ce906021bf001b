"""Language features on the user's files: hover on params keys (and on stages in dvc.yaml);
completion of params keys in dvc.yaml and go-to-definition from them to the params file; code
lenses above params files that call the extension's run and queue commands."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from pyhelper.errors import XpError
from pyhelper.server.features.yaml_keys import key_at, list_owner

if TYPE_CHECKING:
    from pyhelper.core.experiments.show import Row
    from pyhelper.server.server import XpServer

NEWEST = 5
"""How many of the newest experiments a hover lists."""
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def _md(value: Any) -> str:
    """Text shown in markdown as it is: names and values are data, never markup."""
    text = "—" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def _headline(rows: list[Row]) -> tuple[str, str] | None:
    """(file, key) of the first metric any row has: the table's first metrics column."""
    for row in rows:
        for file, values in row.metrics.items():
            for key in values:
                return file, key
    return None


def _best(rows: list[Row], headline: tuple[str, str] | None) -> Row | None:
    """The experiment with the best headline metric: lowest for losses and errors, else highest."""
    if headline is None:
        return None
    values = [(r.metrics.get(headline[0], {}).get(headline[1]), r) for r in rows]
    scored = [(v, r) for v, r in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not scored:
        return None
    lower = any(word in headline[1].lower() for word in ("loss", "err", "mse", "mae", "rmse"))
    return (min if lower else max)(scored, key=lambda item: item[0])[1]


def _value_range(values: list[Any]) -> str:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(values):
        return f"{_md(min(numbers))} … {_md(max(numbers))} ({len(set(numbers))} distinct)"
    distinct = list(dict.fromkeys(repr(v) for v in values))
    shown = ", ".join(_md(v) for v in distinct[:6]) + (", …" if len(distinct) > 6 else "")
    return f"{len(distinct)} distinct: {shown}"


def hover(ls: XpServer, params: lsp.HoverParams) -> lsp.Hover | None:
    """Params files: a key's values across experiments. dvc.yaml: a stage's status, or a params key."""
    rel = ls.rel(params.text_document.uri)
    if rel is None or not rel.endswith((".yaml", ".yml")) or _base(rel) == "dvc.lock":
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    line, column = params.position.line, params.position.character
    if _base(rel) == "dvc.yaml":
        found = key_at(document.source, line, column)
        if found is not None and found.dotted.count(".") == 1 and found.dotted.startswith("stages."):
            name = found.dotted.split(".", 1)[1]
            address = name if rel == "dvc.yaml" else f"{rel}:{name}"  # As DVC addresses it.
            return _stage_hover(ls, address, _range(found.line, found.start, found.end))
        word = _params_word(ls, document.source, line, column, rel)
        return _params_hover(ls, word[0], word[1], word[2]) if word else None
    found = key_at(document.source, line, column)
    if found is None:
        return None
    return _params_hover(ls, rel, found.dotted, _range(found.line, found.start, found.end))


def _base(rel: str) -> str:
    """A path's file name (`dvc.yaml` of `pipelines/train/dvc.yaml`)."""
    return rel.rsplit("/", 1)[-1]


def _range(line: int, start: int, end: int) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=line, character=start), end=lsp.Position(line=line, character=end))


def _stage_hover(ls: XpServer, stage: str, where: lsp.Range) -> lsp.Hover | None:
    """What a stage runs, whether it is up to date (and why not), and its last recorded run."""
    import time

    from pyhelper.core.pipeline.run_cache import RunCache
    from pyhelper.core.pipeline.status import status

    try:
        project = ls.project()
        [state] = status(project, [stage])
        cache = RunCache(project.ensure_xp_dir() / "runs.db")
        try:
            runs = cache.list(stage=stage, limit=1)
        finally:
            cache.close()
    except (XpError, ValueError):
        return None  # A broken pipeline: the diagnostics say why.
    lines = [f"**stage {_md(stage)}**", ""]
    if state.frozen:
        lines.append("Frozen: `xp repro` never runs it.")
    elif state.reasons:
        lines.append("Changed — `xp repro` would run it:")
        lines += [f"- {_md(reason)}" for reason in state.reasons]
    else:
        lines.append("Up to date.")
    if runs:
        last = runs[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.created))
        lines += ["", f"Last run: {last.duration:.2f} s, finished {when} (run {_md(last.id)})."]
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n".join(lines)), range=where)


def _params_hover(ls: XpServer, rel: str, key: str, where: lsp.Range) -> lsp.Hover | None:
    """A params key's value in HEAD, the workspace, the newest experiments, the best one, and its range."""
    try:
        rows = ls.table.rows(ls.project(), ls.watcher.poll())
    except XpError:
        return None  # Not a repository yet, or no commits: nothing to compare with.
    if rel != "params.yaml" and not any(rel in row.params for row in rows):
        return None
    workspace = [r for r in rows if r.kind == "workspace"]
    baseline = next((r for r in rows if r.kind == "baseline"), None)
    exps = [r for r in rows if r.kind == "experiment" and baseline is not None and r.baseline == baseline.rev]
    headline = _headline(rows)

    def value(row: Row) -> Any:
        values = row.params.get(rel, {})
        if key in values:
            return values[key]
        below = {k: v for k, v in values.items() if k.startswith(key + ".")}
        return f"{len(below)} keys" if below else None

    def metric(row: Row) -> str:
        return _md(row.metrics.get(headline[0], {}).get(headline[1])) if headline else ""

    tracked = any(key in r.params.get(rel, {}) or any(k.startswith(key + ".") for k in r.params.get(rel, {}))
                  for r in rows)
    lines = [f"**{_md(key)}** in {_md(rel)}", ""]
    if not tracked:
        lines.append("No stage in dvc.yaml reads this key, so experiments do not record it.")
    else:
        metric_header = f" {_md(headline[1])} |" if headline else ""
        lines += [f"| | value |{metric_header}", "|---|---|" + ("---|" if headline else "")]
        if baseline is not None:
            lines.append(f"| HEAD ({_md(baseline.name)}) | {_md(value(baseline))} |"
                         + (f" {metric(baseline)} |" if headline else ""))
        for row in workspace:
            lines.append(f"| workspace | {_md(value(row))} |" + (f" {metric(row)} |" if headline else ""))
        newest = sorted(exps, key=lambda r: (r.created or 0, r.name), reverse=True)[:NEWEST]
        for row in newest:
            lines.append(f"| {_md(row.name)} | {_md(value(row))} |" + (f" {metric(row)} |" if headline else ""))
        seen = [value(r) for r in exps if key in r.params.get(rel, {})]
        lines.append("")
        best = _best(exps, headline)
        if best is not None and headline is not None:
            lines += [f"Best by {_md(headline[1])}: {_md(best.name)} with {_md(value(best))} "
                      f"({_md(headline[1])} {metric(best)})", ""]
        if seen:
            lines.append(f"Across {len(seen)} experiment(s) of this baseline: {_value_range(seen)}")
        else:
            lines.append("No experiment of this baseline has a value for it yet.")
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n".join(lines)), range=where)


def _params_text(ls: XpServer, rel: str) -> str | None:
    """A params file's text: the editor's buffer when it is open, else the disk's."""
    from pygls.uris import from_fs_path

    path = ls.root / rel
    uri = from_fs_path(str(path))
    if uri in ls.workspace.text_documents:
        return ls.workspace.get_text_document(uri).source
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def completion(ls: XpServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    """Keys of the params file in a stage's `params:` list of dvc.yaml."""
    from pyhelper.core.values.params import flatten, parse_params

    rel = ls.rel(params.text_document.uri)
    if rel is None or _base(rel) != "dvc.yaml":
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    owner = list_owner(document.source, params.position.line)
    if not owner:
        return None
    if owner[-1] == "params" and len(owner) == 3 and owner[0] == "stages":
        file = "params.yaml"
    elif len(owner) == 5 and owner[0] == "stages" and owner[2] == "params" and owner[3] == "-":
        file = owner[4]
    else:
        return None
    if "/" in rel:  # A subfolder's dvc.yaml names params files relative to its own folder.
        import posixpath

        file = posixpath.normpath(posixpath.join(rel.rpartition("/")[0], file))
    text = _params_text(ls, file)
    if text is None:
        return None
    try:
        data = parse_params(text, suffix="." + file.rsplit(".", 1)[-1].lower(), display=file)
    except XpError:
        return None
    items: dict[str, lsp.CompletionItem] = {}
    for key, value in flatten(data).items():
        parts = key.split(".")
        for size in range(1, len(parts)):  # A section (`train`) tracks every key below it.
            section = ".".join(parts[:size])
            items.setdefault(section, lsp.CompletionItem(label=section, kind=lsp.CompletionItemKind.Module,
                                                         detail=f"section of {file}"))
        items[key] = lsp.CompletionItem(label=key, kind=lsp.CompletionItemKind.Property,
                                        detail=f"{file}: {value!r}")
    return lsp.CompletionList(is_incomplete=False, items=list(items.values()))


_WORD = re.compile(r"[\w.\-/]+")


def _params_word(ls: XpServer, text: str, number: int, column: int,
                 dvcfile: str = "dvc.yaml") -> tuple[str, str, lsp.Range] | None:
    """(params file, key, its range) when the cursor is on a key in a stage's `params:` of dvc.yaml
    (the file relative to the served folder: a subfolder's dvc.yaml names files relative to itself)."""
    lines = text.splitlines()
    if number >= len(lines):
        return None
    line = lines[number]
    match = next((m for m in _WORD.finditer(line) if m.start() <= column <= m.end()), None)
    owner = list_owner(text, number)
    inline = re.match(r"\s*params\s*:\s*\[", line)  # `params: [train.lr, train.opt]`
    if match is None or match.group() == "params" or not (inline or (owner and "params" in owner)):
        return None
    file = owner[-1] if owner and owner[-2:-1] == ["-"] else "params.yaml"
    folder = dvcfile.rpartition("/")[0]
    if folder:
        import posixpath

        file = posixpath.normpath(posixpath.join(folder, file))
    return file, match.group(), _range(number, match.start(), match.end())


def definition(ls: XpServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    """From a params key in a stage's `params:` of dvc.yaml to its line in the params file."""
    from pygls.uris import from_fs_path

    from pyhelper.core.values.params import get_value, parse_params
    from pyhelper.core.yamlio.yamlfile import line_of

    rel = ls.rel(params.text_document.uri)
    if rel is None or _base(rel) != "dvc.yaml":
        return None
    text = ls.workspace.get_text_document(params.text_document.uri).source
    found = _params_word(ls, text, params.position.line, params.position.character, rel)
    if found is None:
        return None
    file, word, _ = found
    source = _params_text(ls, file)
    if source is None or not file.endswith((".yaml", ".yml")):
        return None
    try:
        get_value(parse_params(source, suffix=".yaml", display=file), word)
    except (KeyError, XpError):
        return None
    target = line_of(source, word.split("."))
    if target is None:
        return None
    content = source.splitlines()[target - 1]
    last = word.split(".")[-1]
    start = max(content.find(last), 0)
    return lsp.Location(uri=from_fs_path(str(ls.root / file)), range=lsp.Range(
        start=lsp.Position(line=target - 1, character=start),
        end=lsp.Position(line=target - 1, character=start + len(last))))


LENSES = (
    ("Run with these params", "xp.runExperiment"),
    ("Run with modified params…", "xp.runExperimentWithParams"),
    ("Queue…", "xp.queueExperiment"),
)
"""Code lenses above a params file: (title, the extension's command id from package.json)."""


def code_lens(ls: XpServer, params: lsp.CodeLensParams) -> list[lsp.CodeLens] | None:
    """"Run with these params" / "Run with modified params…" / "Queue…" above params.yaml (and other
    params files the pipeline reads); they call the extension's commands."""
    rel = ls.rel(params.text_document.uri)
    if rel is None or not rel.endswith((".yaml", ".yml", ".json", ".toml")) or _base(rel) in ("dvc.yaml", "dvc.lock"):
        return None
    if rel != "params.yaml":
        try:
            from pyhelper.core.pipeline.dvcfile import read_pipeline
            from pyhelper.core.values.metrics import params_keys

            if rel not in params_keys(read_pipeline(ls.root)):
                return None
        except XpError:
            return None
    top = _range(0, 0, 0)
    return [lsp.CodeLens(range=top, command=lsp.Command(title=title, command=command)) for title, command in LENSES]


def register(server: XpServer) -> None:
    """Registers hover, completion, go-to-definition and code lenses."""
    server.feature(lsp.TEXT_DOCUMENT_CODE_LENS, lsp.CodeLensOptions(resolve_provider=False))(code_lens)
    server.feature(lsp.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(lsp.TEXT_DOCUMENT_HOVER)(server.thread()(hover))
    server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["-", " "]))(completion)
