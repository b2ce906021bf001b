"""Language features through a real client: hover on params keys, diagnostics for dvc.yaml and
params files (the CLI's checks, exact ranges, half-typed YAML), completion of params keys."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from pyhelper.server import protocol as p
from tests.lsp_client import THREE_EXPERIMENTS, change_document, open_document, reproduced_project, request, started

pytestmark = pytest.mark.asyncio


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed, with three experiments."""
    repo = reproduced_project(gen, xp, experiments=THREE_EXPERIMENTS)
    (repo / "params.yaml").write_text("train:\n  lr: 0.1   # learning rate\n  opt: adam\n")
    return repo


async def _hover(client, uri: str, line: int, character: int):
    return await asyncio.wait_for(client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=character))), 30)


async def test_hover_on_a_params_key(project):
    async with started(project) as client:
        uri = open_document(client, project / "params.yaml")
        hover = await _hover(client, uri, 1, 3)
    text = hover.contents.value
    assert hover.range == lsp.Range(start=lsp.Position(line=1, character=2), end=lsp.Position(line=1, character=4))
    assert text.startswith("**train.lr** in params.yaml")
    assert "| HEAD (main) | 0.1 | 0.6 |" in text
    assert "| workspace | 0.1 |" in text
    for name, lr, acc in (("low", "0.05", "0.55"), ("mid", "0.2", "0.7"), ("high", "0.3", "0.8")):
        assert f"| {name} | {lr} | {acc} |" in text
    assert "Across 3 experiment(s) of this baseline: 0.05 … 0.3 (3 distinct)" in text
    assert "Best by acc: high with 0.3 (acc 0.8)" in text


async def test_hover_in_dvc_yaml(project, xp):
    dvc = project / "dvc.yaml"
    text = dvc.read_text()
    params_line = text.splitlines().index("    params: [train.lr, train.opt]")
    async with started(project) as client:
        uri = open_document(client, dvc)
        stage = await _hover(client, uri, 1, 3)
        key = await _hover(client, uri, params_line, text.splitlines()[params_line].index("train.lr") + 2)
    assert stage.contents.value.startswith("**stage train**")
    assert "Changed — `xp repro` would run it:" in stage.contents.value  # params.yaml has opt: adam now.
    assert "Last run: " in stage.contents.value
    assert key.contents.value.startswith("**train.lr** in params.yaml")
    assert "| high | 0.3 | 0.8 |" in key.contents.value


async def test_hover_elsewhere_says_nothing(project, tmp_path):
    async with started(project) as client:
        uri = open_document(client, project / "params.yaml")
        assert await _hover(client, uri, 1, 9) is None  # On the value, not the key.
        readme = open_document(client, project / "README.md")
        assert await _hover(client, readme, 0, 1) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "params.yaml").write_text("lr: 0.1\n")
    async with started(plain) as client:
        uri = open_document(client, plain / "params.yaml")
        assert await _hover(client, uri, 0, 0) is None


async def _diagnostics(client, path, *, where=lambda d: True, timeout: float = 10.0):
    uri = from_fs_path(str(path))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.diagnostics.get(uri)
        if found is not None and where(found):
            return list(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no diagnostics for {path}: {client.diagnostics}")


async def _opened_with_one_diagnostic(client, path: Path, text: str | None = None) -> tuple[str, lsp.Diagnostic]:
    """Opens `path` (with `text` in the editor, when given) and waits for its one diagnostic: (its URI, that)."""
    uri = open_document(client, path, text)
    [diagnostic] = await _diagnostics(client, path, where=bool)
    return uri, diagnostic


def _range(d: lsp.Diagnostic) -> tuple[int, int, int]:
    return d.range.start.line, d.range.start.character, d.range.end.character


async def test_unknown_stage_key_then_fixed(project):
    dvc = project / "dvc.yaml"
    bad = dvc.read_text().replace("    cmd: python train.py", "    cmdd: python train.py")
    async with started(project) as client:
        uri, diagnostic = await _opened_with_one_diagnostic(client, dvc, bad)
        assert _range(diagnostic) == (2, 4, 8)
        assert "stage 'train' has an unknown key 'cmdd'" in diagnostic.message
        assert "did you mean 'cmd'?" in diagnostic.message
        assert diagnostic.severity == lsp.DiagnosticSeverity.Error
        change_document(client, uri, dvc.read_text(), 2)
        assert await _diagnostics(client, dvc, where=lambda d: not d) == []


async def test_invalid_yaml_while_typing(project):
    params = project / "params.yaml"
    async with started(project) as client:
        uri = open_document(client, params)
        change_document(client, uri, "train:\n  lr: [0.1\n  opt: adam\n", 2)
        [diagnostic] = await _diagnostics(client, params, where=bool)
        assert diagnostic.range.start.line == 1
        assert "malformed YAML" in diagnostic.message and "'['" in diagnostic.message
        # Still serving: a hover on the broken buffer answers (or says nothing) without an error.
        await _hover(client, uri, 0, 1)
        result = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(limit=1))
        assert result.rows[0].kind == "workspace"
        change_document(client, uri, "train:\n  lr: 0.1\n  opt: adam\n", 3)
        assert await _diagnostics(client, params, where=lambda d: not d) == []


@pytest.mark.parametrize("edit, line, word, text", [
    (("params: [train.lr, train.opt]", "params: [train.lr, train.nope]"), 4, "train.nope",
     "depends on params key 'train.nope', which params.yaml does not have"),
    (("deps: [train.py]", "deps: [train.py, data.csv]"), 3, "data.csv",
     "dependency 'data.csv' of stage 'train' does not exist"),
])
async def test_saved_pipeline_checks(project, edit, line, word, text):
    dvc = project / "dvc.yaml"
    dvc.write_text(dvc.read_text().replace(*edit))
    async with started(project) as client:
        _, diagnostic = await _opened_with_one_diagnostic(client, dvc)
    content = dvc.read_text().splitlines()[line]
    assert _range(diagnostic) == (line, content.index(word), content.index(word) + len(word))
    assert text in diagnostic.message


async def test_cycle(project):
    dvc = project / "dvc.yaml"
    dvc.write_text(textwrap.dedent("""\
        stages:
          a:
            cmd: cp b.txt a.txt
            deps: [b.txt]
            outs: [a.txt]
          b:
            cmd: cp a.txt b.txt
            deps: [a.txt]
            outs: [b.txt]
        """))
    async with started(project) as client:
        _, diagnostic = await _opened_with_one_diagnostic(client, dvc)
    assert "cycle" in diagnostic.message


async def test_completion_of_params_keys(project):
    dvc = project / "dvc.yaml"
    text = dvc.read_text().replace("    params: [train.lr, train.opt]\n", "    params:\n      - \n")
    line = text.splitlines().index("      - ")
    async with started(project) as client:
        uri = open_document(client, dvc, text)
        result = await asyncio.wait_for(client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=8))), 10)
        labels = {item.label: item for item in result.items}
        assert {"train", "train.lr", "train.opt"} <= set(labels)
        assert labels["train.lr"].detail == "params.yaml: 0.1"
        outside = await asyncio.wait_for(client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=1, character=2))), 10)
        assert outside is None


async def test_quick_fix_for_a_misspelt_key(project):
    dvc = project / "dvc.yaml"
    bad = dvc.read_text().replace("    outs: [model.bin]", "    outz: [model.bin]")
    async with started(project) as client:
        uri, diagnostic = await _opened_with_one_diagnostic(client, dvc, bad)
        actions = await asyncio.wait_for(client.text_document_code_action_async(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=lsp.CodeActionContext(diagnostics=[diagnostic]))), 10)
    [action] = actions
    assert action.title == "Change to 'outs'" and action.kind == lsp.CodeActionKind.QuickFix
    [edit] = action.edit.changes[uri]
    line = bad.splitlines()[edit.range.start.line]
    fixed = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    assert fixed == "    outs: [model.bin]"


async def test_go_to_a_params_key(project):
    dvc = project / "dvc.yaml"
    text = dvc.read_text()
    line = text.splitlines().index("    params: [train.lr, train.opt]")
    async with started(project) as client:
        uri = open_document(client, dvc)
        found = await asyncio.wait_for(client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(line=line, character=text.splitlines()[line].index("train.opt") + 7))), 10)
        nothing = await asyncio.wait_for(client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=1, character=3))), 10)
    assert found.uri == from_fs_path(str(project / "params.yaml"))
    assert found.range == lsp.Range(start=lsp.Position(line=2, character=2), end=lsp.Position(line=2, character=5))
    assert nothing is None


async def test_code_lenses_above_params_files(project):
    async with started(project) as client:
        params_uri = open_document(client, project / "params.yaml")
        lenses = await asyncio.wait_for(client.text_document_code_lens_async(lsp.CodeLensParams(
            text_document=lsp.TextDocumentIdentifier(uri=params_uri))), 10)
        dvc_uri = open_document(client, project / "dvc.yaml")
        none = await asyncio.wait_for(client.text_document_code_lens_async(lsp.CodeLensParams(
            text_document=lsp.TextDocumentIdentifier(uri=dvc_uri))), 10)
    assert [(lens.command.title, lens.command.command) for lens in lenses] == [
        ("Run with these params", "xp.runExperiment"),
        ("Run with modified params…", "xp.runExperimentWithParams"),
        ("Queue…", "xp.queueExperiment"),
    ]
    assert all(lens.range.start.line == 0 for lens in lenses)
    assert none is None


async def test_hover_text_keeps_names_literal_markup_and_entities_included():
    from pyhelper.server.features.language import _md

    # Escaped for CommonMark: the editor shows exactly these characters, never a tag or an entity.
    assert _md('<b>ünï"q"&amp;') == '\\<b\\>ünï"q"\\&amp;'
    assert _md("a_b*c`d`") == "a\\_b\\*c\\`d\\`"


async def test_a_subfolder_pipeline_gets_hovers_and_diagnostics(gen, xp):
    from tests import real_projects

    repo = gen({}, commit=False)
    real_projects.subfolder_pipelines(repo)
    xp("repro", "-q", cwd=repo)
    train = repo / "pipelines" / "train" / "dvc.yaml"
    lines = train.read_text().splitlines()
    stage_line = next(i for i, line in enumerate(lines) if line.strip() == "fit:")
    async with started(repo) as client:
        uri = open_document(client, train)
        hover = await _hover(client, uri, stage_line, lines[stage_line].index("fit") + 1)
        assert hover.contents.value.startswith("**stage pipelines/train/dvc.yaml:fit**")
        assert "Up to date." in hover.contents.value
        # A mistake in the subfolder's dvc.yaml is reported on that file, at its line.
        broken = train.read_text().replace("    cmd: python fit.py ${fit}", "    cmd: python fit.py ${fitt}")
        change_document(client, uri, broken, 2)
        found = await _diagnostics(client, train, where=lambda ds: any("fitt" in d.message for d in ds))
    assert found and found[0].range.start.line == broken.splitlines().index("    cmd: python fit.py ${fitt}")
