"""Diagnostics for dvc.yaml and params files: the CLI's own checks, at the line and word they name.

While a file is being typed, its buffer is parsed (YAML syntax, stage keys, `${}` names, the
params files' syntax). The checks against the disk (deps that do not exist, params keys missing
from their file, cycles, outputs produced twice) run only when the buffers match the saved
files, because their line numbers come from the files on disk.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from pyhelper.errors import XpError

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer

PARAMS_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
_QUOTED = re.compile(r"'([^']+)'")


def _diagnostic(exc: XpError, text: str | None) -> lsp.Diagnostic:
    """A diagnostic at the error's line, narrowed to the word its message quotes when that is on the line."""
    line = max((exc.line or 1) - 1, 0)
    lines = (text or "").splitlines()
    content = lines[line] if line < len(lines) else ""
    start, end = len(content) - len(content.lstrip()), len(content.rstrip())
    # The first name the message quotes that stands on the line as a whole word (a stage's name
    # inside `train.py` does not count) is what the error is about.
    for word in _QUOTED.findall(exc.message):
        found = re.search(r"(?<![\w.\-/])" + re.escape(word) + r"(?![\w.\-/])", content)
        if found:
            start, end = found.span()
            break
    message = exc.message + (f" — {exc.hint}" if exc.hint else "")
    # "did you mean 'cmd'?" about the word under the range: the quick fix writes it.
    suggestion = re.match(r"did you mean '([^']+)'\?", exc.hint or "")
    data = {"replacement": suggestion.group(1)} if suggestion and "unknown key" in exc.message else None
    return lsp.Diagnostic(range=lsp.Range(start=lsp.Position(line=line, character=start),
                                          end=lsp.Position(line=line, character=max(end, start))),
                          message=message, severity=lsp.DiagnosticSeverity.Error, source="xp", data=data)


def code_actions(ls: XpServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    """Quick fixes: replace a misspelt key by the closest valid one."""
    actions = []
    for diagnostic in params.context.diagnostics:
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        replacement = data.get("replacement")
        if diagnostic.source != "xp" or not isinstance(replacement, str):
            continue
        actions.append(lsp.CodeAction(
            title=f"Change to '{replacement}'", kind=lsp.CodeActionKind.QuickFix, diagnostics=[diagnostic],
            is_preferred=True,
            edit=lsp.WorkspaceEdit(changes={params.text_document.uri: [
                lsp.TextEdit(range=diagnostic.range, new_text=replacement)]})))
    return actions or None


def check(ls: XpServer) -> dict[str, list[lsp.Diagnostic]]:
    """Diagnostics by repository path for dvc.yaml and every open params file."""
    from pyhelper.core.pipeline.dvcfile import parse_pipeline
    from pyhelper.core.pipeline.graph import order
    from pyhelper.core.values.params import parse_params

    root = ls.root
    buffers: dict[str, str] = {}
    for uri, document in list(ls.workspace.text_documents.items()):
        rel = ls.rel(uri)
        if rel is not None:
            buffers[rel] = document.source

    def disk(rel: str) -> str | None:
        try:
            return (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def read(rel: str) -> str | None:
        return buffers[rel] if rel in buffers else disk(rel)

    found: dict[str, list[lsp.Diagnostic]] = {}
    for rel, text in buffers.items():
        if rel.endswith(PARAMS_SUFFIXES) and rel.rsplit("/", 1)[-1] not in ("dvc.yaml", "dvc.lock"):
            try:
                parse_params(text, suffix=posixpath.splitext(rel)[1].lower(), display=rel)
            except XpError as exc:
                found.setdefault(rel, []).append(_diagnostic(exc, text))
    if found:
        return found
    from pyhelper.core.pipeline.collect import collect

    # Every dvc.yaml of the project (an open one not saved yet too); each error lands in its own file.
    files = list(collect(root).pipelines)
    files += [rel for rel in buffers if rel.rsplit("/", 1)[-1] == "dvc.yaml" and rel not in files]
    try:
        pipeline = parse_pipeline(read, files=files or ["dvc.yaml"])
        if all(text == disk(rel) for rel, text in buffers.items()):
            order(pipeline, root)
    except XpError as exc:
        where = exc.path or "dvc.yaml"
        found.setdefault(where, []).append(_diagnostic(exc, read(where)))
    return found


def publish(ls: XpServer) -> None:
    """Checks and publishes, clearing files whose problems are gone."""
    try:
        found = check(ls)
    except Exception:  # A check must never take the server down while someone types.
        import logging

        logging.getLogger(__name__).exception("diagnostics failed")
        return
    published = ls.diagnosed
    for rel in published - set(found):
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=from_fs_path(str(ls.root / rel)),
                                                                          diagnostics=[]))
    for rel, diagnostics in found.items():
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=from_fs_path(str(ls.root / rel)),
                                                                          diagnostics=diagnostics))
    ls.diagnosed = set(found)


def _relevant(ls: XpServer, uri: str) -> bool:
    rel = ls.rel(uri)
    return rel is not None and rel.endswith(PARAMS_SUFFIXES)


def register(server: XpServer) -> None:
    """Re-checks when a dvc.yaml or params file is opened, edited or saved; offers quick fixes."""
    server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                   lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))(code_actions)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: XpServer, params: lsp.DidOpenTextDocumentParams) -> None:
        if _relevant(ls, params.text_document.uri):
            publish(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: XpServer, params: lsp.DidChangeTextDocumentParams) -> None:
        if _relevant(ls, params.text_document.uri):
            publish(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: XpServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if _relevant(ls, params.text_document.uri):
            publish(ls)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: XpServer, params: lsp.DidCloseTextDocumentParams) -> None:
        if _relevant(ls, params.text_document.uri):
            publish(ls)
