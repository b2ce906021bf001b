"""`xp/listRemotes` through a real client: the remotes `xp remote add` configured, urls redacted, no options,
and a broken config answered with the CLI's one line."""

from __future__ import annotations

import json

import pytest

from pyhelper.server import protocol as p
from tests.lsp_client import refused, request, started
from tests.test_experiments import PROJECT

pytestmark = pytest.mark.asyncio


async def test_remotes_with_the_default_urls_redacted_and_no_options(gen, xp, tmp_path):
    repo = gen(PROJECT)
    xp("remote", "add", "backup", "../backup", cwd=repo)
    xp("remote", "add", "-d", "store", "https://user:TOKEN@host/path", cwd=repo)
    xp("remote", "add", "cloud", "s3://bucket/outputs", cwd=repo)
    xp("remote", "modify", "--local", "cloud", "secret_access_key", "SECRETKEY", cwd=repo)
    async with started(repo) as client:
        answer = await request(client, p.LIST_REMOTES, p.ListRemotesParams())
    assert answer.default == "store"
    assert [(r.name, r.url, r.is_default) for r in answer.remotes] == [
        ("backup", str(tmp_path / "backup"), False),  # A relative path is relative to the config file's folder.
        ("cloud", "s3://bucket/outputs", False),
        ("store", "https://user:***@host/path", True),
    ]
    assert answer.files == [str(repo / ".xpconfig"), str(repo / ".xpconfig.local")]
    # On the wire: three fields per remote, and neither the token nor the local secret anywhere.
    async with started(repo, typed=False) as client:
        raw = await request(client, p.LIST_REMOTES, {})
    assert [sorted(remote._fields) for remote in raw.remotes] == [["isDefault", "name", "url"]] * 3
    wire = json.dumps([raw.default, [remote._asdict() for remote in raw.remotes], list(raw.files)])
    assert "TOKEN" not in wire and "SECRETKEY" not in wire and "secret_access_key" not in wire


async def test_no_remote_storage(gen):
    repo = gen(PROJECT)
    async with started(repo) as client:
        answer = await request(client, p.LIST_REMOTES, p.ListRemotesParams())
    assert (answer.default, answer.remotes, answer.files) == (None, [], [])


async def test_a_broken_config_is_bad_input_naming_its_line(gen, xp):
    repo = gen(PROJECT)
    xp("remote", "add", "-d", "store", "../store", cwd=repo)
    (repo / ".xpconfig").write_text("[core]\n    remote = store\nthis is not a line\n", encoding="utf-8")
    async with started(repo) as client:
        message = await refused(client, p.LIST_REMOTES, p.ListRemotesParams())
        assert message.startswith(".xpconfig:3: the config does not parse"), message
        assert "\n" not in message
        # Fixed on disk: the next request answers (nothing is kept from the broken read).
        (repo / ".xpconfig").write_text("[core]\n    remote = store\n['remote \"store\"']\n    url = /srv/store\n",
                                        encoding="utf-8")
        answer = await request(client, p.LIST_REMOTES, p.ListRemotesParams())
        assert [(r.name, r.url) for r in answer.remotes] == [("store", "/srv/store")]
