"""Language features on the user's files: hover on params keys; completion of params keys in dvc.yaml
and go-to-definition from them to the params file."""

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
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


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


def _range(values: list[Any]) -> str:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(values):
        return f"{_md(min(numbers))} … {_md(max(numbers))} ({len(set(numbers))} distinct)"
    distinct = list(dict.fromkeys(repr(v) for v in values))
    shown = ", ".join(_md(v) for v in distinct[:6]) + (", …" if len(distinct) > 6 else "")
    return f"{len(distinct)} distinct: {shown}"


def hover(ls: XpServer, params: lsp.HoverParams) -> lsp.Hover | None:
    """A params key's value in HEAD, the workspace, the newest experiments, and its range."""
    rel = ls.rel(params.text_document.uri)
    if rel is None or not rel.endswith((".yaml", ".yml")) or rel in ("dvc.yaml", "dvc.lock"):
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    found = key_at(document.source, params.position.line, params.position.character)
    if found is None:
        return None
    try:
        rows = ls.table.rows(ls.project(), ls.watcher.poll())
    except XpError:
        return None  # Not a repository yet, or no commits: nothing to compare with.
    if rel != "params.yaml" and not any(rel in row.params for row in rows):
        return None
    key = found.dotted
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
            lines.append(f"| HEAD ({_md(baseline.name)}) | {_md(value(baseline))} |" + (f" {metric(baseline)} |" if headline else ""))
        for row in workspace:
            lines.append(f"| workspace | {_md(value(row))} |" + (f" {metric(row)} |" if headline else ""))
        newest = sorted(exps, key=lambda r: (r.created or 0, r.name), reverse=True)[:NEWEST]
        for row in newest:
            lines.append(f"| {_md(row.name)} | {_md(value(row))} |" + (f" {metric(row)} |" if headline else ""))
        seen = [value(r) for r in exps if key in r.params.get(rel, {})]
        lines.append("")
        if seen:
            lines.append(f"Across {len(seen)} experiment(s) of this baseline: {_range(seen)}")
        else:
            lines.append("No experiment of this baseline has a value for it yet.")
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n".join(lines)),
        range=lsp.Range(start=lsp.Position(line=found.line, character=found.start),
                        end=lsp.Position(line=found.line, character=found.end)),
    )


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
    from pyhelper.core.params import flatten, parse_params

    if ls.rel(params.text_document.uri) != "dvc.yaml":
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


def definition(ls: XpServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    """From a params key in a stage's `params:` of dvc.yaml to its line in the params file."""
    from pygls.uris import from_fs_path

    from pyhelper.core.params import get_value, parse_params
    from pyhelper.core.yamlfile import line_of

    if ls.rel(params.text_document.uri) != "dvc.yaml":
        return None
    text = ls.workspace.get_text_document(params.text_document.uri).source
    lines = text.splitlines()
    number, column = params.position.line, params.position.character
    if number >= len(lines):
        return None
    line = lines[number]
    word = next((m.group() for m in _WORD.finditer(line) if m.start() <= column <= m.end()), None)
    owner = list_owner(text, number)
    inline = re.match(r"\s*params\s*:\s*\[", line)  # `params: [train.lr, train.opt]`
    if not word or word == "params" or not (inline or (owner and "params" in owner)):
        return None
    file = owner[-1] if owner and owner[-2:-1] == ["-"] else "params.yaml"
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


def register(server: XpServer) -> None:
    """Registers hover, completion and go-to-definition."""
    server.feature(lsp.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(lsp.TEXT_DOCUMENT_HOVER)(server.thread()(hover))
    server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["-", " "]))(completion)
