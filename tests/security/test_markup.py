"""Terminal and Markdown injection through tags, notes, names and values.

Tags and notes holding escape sequences (`\\x1b[2J` clears the screen, OSC 52 writes the
clipboard, CR overwrites the line) were stored and printed raw, NUL was accepted over JSON-RPC,
a note could be any size, and `exp show --md` broke on `|` and passed HTML through. Now control
characters are refused where text is typed (the CLI and the server share the core check), and
what is already stored — notes someone else pushed, params values of a pulled experiment — is
shown with visible escapes, cut to size, and escaped for Markdown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from tests.conftest import git
from tests.lsp_client import request, started
from tests.test_experiments import one_line_error

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f\x9b]")
"""What must never reach a terminal from xp's tables (tab and newline are layout)."""

CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"


@pytest.fixture
def project(gen, xp) -> Path:
    """A pipeline with one experiment, `mine`, whose params hold a string."""
    repo = gen({
        "dvc.yaml": "stages:\n  train:\n    cmd: echo ok\n    params: [lr, msg]\n",
        "params.yaml": "lr: 0.1\nmsg: hello\n",
    })
    xp("exp", "save", "-n", "mine", cwd=repo)
    return repo


def rev_of(repo: Path, name: str) -> str:
    return git(repo, "for-each-ref", "--format=%(objectname)", f"refs/exps/*/*/{name}").strip()


def notes_ref(repo: Path) -> str:
    """refs/notes/xp's commit, or "" (to see that nothing was written)."""
    return git(repo, "for-each-ref", "--format=%(objectname)", "refs/notes/xp").strip()


def md_pipes(line: str) -> int:
    """Unescaped `|` in a Markdown table line: where a cell ends."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


@pytest.mark.parametrize("tag, shown", [
    (CLEAR, "\\x1b[2J"), (CLIPBOARD, "\\x1b]52;c;cm0gLXJmIH4=\\x07"), ("ok\rfake", "ok\\rfake"),
    ("\u202eevil", "\\u202eevil"), ("\x9b2J", "\\x9b2J"),
])
def test_a_tag_with_control_characters_is_refused_in_one_visible_line(project, xp, tag, shown):
    result = xp("exp", "tag", "mine", tag, cwd=project, expect=2)
    line = one_line_error(result)
    assert line.startswith(f"error: tag '{shown}' holds the control character \\")
    assert "use printable characters only" in line
    assert not RAW.search(result.stderr + result.stdout)
    assert notes_ref(project) == ""


@pytest.mark.parametrize("text", [f"see {CLEAR}", f"copy {CLIPBOARD}", "done\rnot done", "bell\x07"])
def test_a_note_with_control_characters_is_refused(project, xp, text):
    line = one_line_error(xp("exp", "note", "mine", text, cwd=project, expect=2))
    assert line.startswith("error: the note holds the control character \\")
    assert "tabs and newlines are fine" in line
    assert notes_ref(project) == ""


def test_tabs_newlines_and_windows_line_ends_are_kept_in_notes(project, xp):
    xp("exp", "note", "mine", "first\r\nsecond\tcolumn", cwd=project)
    row = next(r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout) if r["name"] == "mine")
    assert row["note"] == "first\nsecond\tcolumn"


def test_a_note_is_at_most_64_kib(project, xp):
    line = one_line_error(xp("exp", "note", "mine", "x" * (64 * 1024 + 1), cwd=project, expect=2))
    assert line == ("error: the note is 65,537 bytes; a note holds at most 65,536 bytes (64 KiB) — shorten it, "
                    "or keep the long text in a file of the repository and name it in the note")
    assert notes_ref(project) == ""
    xp("exp", "note", "mine", "é" * (32 * 1024), cwd=project)  # 64 KiB exactly, in UTF-8.


def test_hostile_notes_written_by_someone_else_are_shown_escaped_and_cut(project, xp):
    """As if pulled: notes written with `git notes`, not xp — escapes inside JSON, raw bytes, huge."""
    rev = rev_of(project, "mine")
    note = {"version": 1, "tags": [CLEAR, "ok|<b>x</b>"], "note": f"hi {CLIPBOARD}\rgone\n" + "y" * 70_000}
    git(project, "notes", "--ref", "xp", "add", "-f", "-m", json.dumps(note), rev)
    xp("exp", "save", "-f", "-n", "second", cwd=project)
    git(project, "notes", "--ref", "xp", "add", "-f", "-m", f"plain {CLEAR} text", rev_of(project, "second"))

    table = xp("exp", "show", cwd=project)
    assert not RAW.search(table.stdout + table.stderr)
    assert "\\x1b[2J,ok|<b>x</b>" in table.stdout
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)}
    assert rows["mine"]["tags"] == ["\\x1b[2J", "ok|<b>x</b>"]
    assert rows["mine"]["note"].startswith("hi \\x1b]52;c;cm0gLXJmIH4=\\x07\\rgone\nyyy")
    assert rows["mine"]["note"].endswith(" … [note cut: it is 70,029 bytes; xp shows the first 65,536]")
    assert rows["second"]["note"] == "plain \\x1b[2J text"

    markdown = xp("exp", "show", "--md", cwd=project).stdout.splitlines()
    assert len({md_pipes(line) for line in markdown}) == 1, markdown
    assert "\\\\x1b[2J,ok\\|&lt;b&gt;x&lt;/b&gt;" in next(line for line in markdown if "mine" in line)

    # The hostile tag can be removed as it is shown; adding a tag keeps the note cut, not the original.
    xp("exp", "tag", "--remove", "mine", "\\x1b[2J", cwd=project)
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)}
    assert rows["mine"]["tags"] == ["ok|<b>x</b>"]


def test_a_note_too_large_to_be_xps_is_not_read(project, xp):
    rev = rev_of(project, "mine")
    blob = project / "big-note"
    blob.write_text("z" * (2 * 1024 * 1024))
    git(project, "notes", "--ref", "xp", "add", "-f", "-F", str(blob), rev)  # git adds a newline.
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)}
    assert rows["mine"]["note"] == ("[note not shown: it is stored in 2,097,153 bytes; xp reads notes of at most "
                                    "1,048,576]")


def test_pulled_params_values_and_keys_are_escaped_in_tables(project, xp):
    """A pulled experiment's params.yaml may hold any string; YAML's "\\e" is a raw ESC once parsed."""
    (project / "params.yaml").write_text('lr: 0.1\nmsg: "\\e[2J|a\\nb\\u202e"\n"k|<i>": "\\x07"\n')
    xp("exp", "save", "-f", "-n", "hostile", cwd=project)
    for args in (("exp", "show"), ("exp", "diff", "mine", "hostile"), ("params", "diff", "--all")):
        result = xp(*args, cwd=project)
        assert not RAW.search(result.stdout + result.stderr), (args, result.stdout)
        assert "\\x1b[2J|a\\nb\\u202e" in result.stdout, (args, result.stdout)
    for args in (("exp", "show", "--md"), ("exp", "diff", "--md", "mine", "hostile"), ("params", "diff", "--md")):
        lines = xp(*args, cwd=project).stdout.splitlines()
        assert len({md_pipes(line) for line in lines}) == 1, (args, lines)
        assert any("\\\\x1b[2J\\|a\\\\nb\\\\u202e" in line for line in lines), (args, lines)


@pytest.mark.asyncio
async def test_the_server_refuses_nul_and_escapes_with_the_bad_input_code(gen, xp):
    """NUL cannot pass through argv, but JSON-RPC carries it: the server's tag/note refuse it as the CLI does."""
    from pyhelper.server import protocol as p

    repo = gen({"params.yaml": "lr: 0.1\n"})
    xp("exp", "save", "-n", "mine", cwd=repo)
    async with started(repo) as client:
        for method, params in (
            (p.TAG_EXPERIMENT, p.TagExperimentParams(name="mine", tags=["a\x00b"])),
            (p.TAG_EXPERIMENT, p.TagExperimentParams(name="mine", tags=[CLEAR])),
            (p.NOTE_EXPERIMENT, p.NoteExperimentParams(name="mine", text="a\x00b")),
            (p.NOTE_EXPERIMENT, p.NoteExperimentParams(name="mine", text="n" * (64 * 1024 + 1))),
        ):
            with pytest.raises(JsonRpcException) as caught:
                await request(client, method, params)
            assert caught.value.code == p.BAD_INPUT
            assert not RAW.search(caught.value.message), caught.value.message
        tagged = await request(client, p.TAG_EXPERIMENT, p.TagExperimentParams(name="mine", tags=["fine"]))
        assert tagged.tags == ["fine"]
    assert "\\u0000" not in git(repo, "notes", "--ref", "xp", "show", rev_of(repo, "mine"))
