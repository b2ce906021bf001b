"""Git options through remote names: a remote or ref that git would read as an option or a command.

`--upload-pack=CMD` and `--receive-pack=CMD` given where a remote is expected, or a remote URL
using git's `ext::` transport, made `xp exp pull/push`, the language server's push/pull requests
and the remote worker run CMD. Each attack below must end in one line refusing it, with the marker
file CMD would create left uncreated; a plain bare repository (a path or a file:// URL) still works.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from pyhelper.core.git.gitargs import check_refname, check_remote
from pyhelper.errors import BadInput
from pyhelper.server import protocol as p
from tests.conftest import git
from tests.lsp_client import reproduced_project, request, started
from tests.test_experiments import exps, one_line_error


@pytest.fixture
def project(gen, xp, tmp_path) -> Path:
    """A repository with one experiment and an `origin` bare remote (git's default when none is named)."""
    repo = gen({"params.yaml": "lr: 0.1\n"})
    xp("exp", "save", "-n", "mine", cwd=repo)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    return repo


def touch(marker: Path) -> str:
    """A shell command creating `marker`: what the attacker's option would run."""
    return f"touch {shlex.quote(str(marker))};"


@pytest.mark.parametrize("verb, option", [("pull", "--upload-pack="), ("push", "--receive-pack="),
                                           ("push", "--exec="), ("pull", "--receive-pack=")])
def test_an_option_as_the_remote_is_refused(project, xp, tmp_path, verb, option):
    marker = tmp_path / "marker"
    result = xp("exp", verb, "--", option + touch(marker), cwd=project, expect=None)
    assert not marker.exists(), "git ran the remote's command"
    line = one_line_error(result)
    assert result.returncode == 2
    assert f"the remote '{option}touch" in line and "starts with '-'" in line and "git remote -v" in line


def test_the_ext_transport_is_refused_even_when_the_users_git_allows_it(project, xp, tmp_path):
    """`ext::` runs a command; git's default refuses it, but a user's config may allow every transport."""
    git(project, "config", "protocol.allow", "always")
    git(project, "config", "protocol.ext.allow", "always")
    marker = tmp_path / "marker"
    url = f"ext::sh -c touch% {marker}"
    for verb in ("pull", "push"):
        result = xp("exp", verb, url, cwd=project, expect=None)
        assert not marker.exists(), "git ran the ext:: command"
        assert "uses git's 'ext' transport, which xp does not allow" in one_line_error(result)
    # The same URL behind a remote's name reaches git, which is told to allow file, ssh, https and git only.
    git(project, "remote", "add", "evil", url)
    for verb in ("pull", "push"):
        result = xp("exp", verb, "evil", cwd=project, expect=None)
        assert result.returncode != 0 and "transport 'ext' not allowed" in one_line_error(result)
    assert not marker.exists(), "git ran the ext:: command"


@pytest.mark.parametrize("remote, says", [
    ("fd::7", "uses git's 'fd' transport"),
    ("http://example.invalid/x.git", "uses http://"),
    ("ssh://-oProxyCommand=touch% /tmp/x/repo", "host starting with '-'"),
    ("origin\n--upload-pack=touch x", "holds a control character"),
    ("", "the remote is empty"),
    ("x" * 5000, "is 5000 characters long (at most 4096)"),
])
def test_remotes_git_could_misread_are_refused_in_one_line(project, xp, remote, says):
    line = one_line_error(xp("exp", "pull", remote, cwd=project, expect=2))
    assert says in line and len(line) < 400


def test_the_refusal_shows_no_token_and_no_raw_control_characters():
    with pytest.raises(BadInput) as caught:
        check_remote("https://me:s3cr3t-token@example.com/x.git\x1b[2J")
    assert "s3cr3t-token" not in caught.value.one_line() and "\x1b" not in caught.value.one_line()
    assert "\\x1b[2J" in caught.value.one_line()


def test_refs_handed_to_git_must_be_valid_ref_names():
    assert check_refname("refs/exps/ab/cdef/mine") == "refs/exps/ab/cdef/mine"
    for bad in ("--upload-pack=x", "-x", "refs/exps/*", "refs/a..b", "refs/x:refs/y", "refs/x\n", "", "HEAD"):
        with pytest.raises(BadInput, match="not a valid git ref name"):
            check_refname(bad)


def test_a_bare_repository_by_path_and_by_file_url_still_pushes_and_pulls(project, xp, tmp_path):
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    assert "Pushed 1 experiment(s)" in xp("exp", "push", str(bare), cwd=project).stdout
    assert "/mine" in git(bare, "for-each-ref", "refs/exps")
    xp("exp", "remove", "mine", cwd=project)
    assert "Pulled 1 experiment(s)" in xp("exp", "pull", bare.as_uri(), cwd=project).stdout
    assert set(exps(project)) == {"mine"}
    xp("exp", "save", "-n", "second", cwd=project)
    assert "Pushed 2 experiment(s)" in xp("exp", "push", bare.as_uri(), cwd=project).stdout
    assert "Pushed 2 experiment(s) to 'origin'" in xp("exp", "push", "origin", cwd=project).stdout


@pytest.mark.asyncio
async def test_the_language_servers_push_and_pull_refuse_an_option_as_the_remote(gen, xp, tmp_path):
    repo = reproduced_project(gen, xp, experiments=(("shared", "0.2"),))
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "origin.git"))  # Where git pushes when no remote is named.
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "-u", "origin", "main")
    marker = tmp_path / "marker"
    attacks = ((p.PUSH_EXPERIMENTS, "--receive-pack=" + touch(marker), "starts with '-'"),
               (p.PULL_EXPERIMENTS, "--upload-pack=" + touch(marker), "starts with '-'"),
               (p.PULL_EXPERIMENTS, f"ext::sh -c touch% {marker}", "uses git's 'ext' transport"))
    async with started(repo) as client:
        for method, remote, says in attacks:
            with pytest.raises(JsonRpcException) as caught:
                await request(client, method, p.SyncExperimentsParams(remote=remote))
            assert not marker.exists(), f"git ran the remote's command ({method})"
            assert caught.value.code == p.BAD_INPUT
            assert says in caught.value.message and "\n" not in caught.value.message
        # A plain bare repository still works through the server.
        bare = tmp_path / "shared.git"
        git(tmp_path, "init", "-q", "--bare", str(bare))
        pushed = await request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(remote=bare.as_uri()))
        assert pushed.names == ["shared"]
    assert not marker.exists(), "git ran the remote's command"


def test_the_workers_mirror_and_push_refuse_an_option_as_the_remote(project, tmp_path):
    """The remote worker's git side (mirror, publish) checks its remote and refs as the CLI does."""
    from pyhelper.core.queue.remote_git import mirror, publish

    marker = tmp_path / "marker"
    rev = git(project, "rev-parse", "HEAD").strip()
    with pytest.raises(BadInput, match="worker's remote '--upload-pack=touch"):
        mirror("--upload-pack=" + touch(marker), "e1", rev, root=tmp_path / "mirrors", cache_dir=None)
    with pytest.raises(BadInput, match="queue entry's ref"):  # A refspec of its own: it would write refs/heads/main.
        mirror(str(tmp_path / "origin.git"), "e1:refs/heads/main", rev, root=tmp_path / "mirrors", cache_dir=None)
    with pytest.raises(BadInput, match="worker's remote '--receive-pack=touch"):
        publish(project, "--receive-pack=" + touch(marker), "refs/exps/aa/bb/x", rev, "e1.1", final=True)
    with pytest.raises(BadInput, match="experiment's ref '-refs/x'"):
        publish(project, str(tmp_path / "origin.git"), "-refs/x", rev, "e1.1", final=True)
    assert not marker.exists(), "git ran the remote's command"

    # A queued commit on a plain bare remote is mirrored and its experiment pushed back.
    git(project, "push", "-q", "origin", f"{rev}:refs/xp/queue/e1")
    root = mirror((tmp_path / "origin.git").as_uri(), "e1", rev, root=tmp_path / "mirrors", cache_dir=None)
    ref = f"refs/exps/{rev[:2]}/{rev[2:]}/done"
    assert publish(root, str(tmp_path / "origin.git"), ref, rev, "e1.1", final=True) == rev
    assert git(tmp_path / "origin.git", "rev-parse", ref).strip() == rev
