"""SSH remotes through sshfs (as DVC uses), against an OpenSSH server (`sshd`, scripts/ssh-setup.sh)
started on loopback by each test with keys made for it: push, pull into a fresh clone, DVC 3.67.1 (with
dvc-ssh) reading what xp pushed, a push killed half way leaving no half object, and the failures a user
meets (unknown host key, a refused key, no server) as one line each."""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyhelper.demo import create
from tests.conftest import free_port, git, wait_for_port
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sshd:
    port: int
    key: Path
    user: str
    store: Path
    known_hosts: Path
    host_line: str

    def url(self, path: Path | None = None) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path or self.store}"


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def sshd(tmp_path, monkeypatch):
    """Our own sshd on a free loopback port; HOME is a folder of this test's (its ~/.ssh/known_hosts knows
    the server), and the client's key is authorised."""
    server = subprocess.run(["bash", str(ROOT / "scripts" / "ssh-setup.sh")], capture_output=True, text=True)
    assert server.returncode == 0, f"this test needs sshd (scripts/ssh-setup.sh): {server.stderr}"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    keygen(tmp_path / "host_key")
    keygen(tmp_path / "client_key")
    authorized = tmp_path / "authorized_keys"
    authorized.write_text((tmp_path / "client_key.pub").read_text())
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host_key'}\n"
                      f"PidFile {tmp_path / 'sshd.pid'}\nAuthorizedKeysFile {authorized}\n"
                      "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                      "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder (a tmpfs: gone after a boot).
    log = tmp_path / "sshd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([server.stdout.strip().splitlines()[-1], "-D", "-e", "-f", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)
    wait_for_port(port, proc, log, "sshd")
    host_key = (tmp_path / "host_key.pub").read_text().split()
    host_line = f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n"
    known_hosts = home / ".ssh" / "known_hosts"
    known_hosts.write_text(host_line)
    store = tmp_path / "store"
    yield Sshd(port, tmp_path / "client_key", getpass.getuser(), store, known_hosts, host_line)
    proc.terminate()
    proc.wait(10)


def configure(repo: Path, xp, server: Sshd) -> None:
    xp("remote", "add", "-d", "box", server.url(), cwd=repo)
    xp("remote", "modify", "--local", "box", "keyfile", str(server.key), cwd=repo)


def objects(store: Path) -> dict[str, Path]:
    return {p.parent.name + p.name: p for p in (store / "files" / "md5").glob("*/*") if not p.name.startswith(".")}


def test_push_over_ssh_and_pull_on_a_fresh_clone_and_dvc_reads_it(sshd, tmp_path, dvc_bin, xp):  # noqa: F811
    a = create(tmp_path / "a")
    xp("repro", cwd=a)
    configure(a, xp, sshd)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "ssh remote")
    xp("push", cwd=a)
    pushed = objects(sshd.store)
    assert pushed and all(hashlib.md5(p.read_bytes()).hexdigest() == md5.removesuffix(".dir")
                          for md5, p in pushed.items())
    assert "0 object(s) pushed" in xp("push", cwd=a).stdout
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(a), str(b))
    xp("remote", "modify", "--local", "box", "keyfile", str(sshd.key), cwd=b)
    xp("pull", cwd=b)
    assert (b / "model/model.json").read_bytes() == (a / "model/model.json").read_bytes()
    # DVC (dvc-ssh) reads the same remote: a DVC project pushed by xp, pulled by DVC.
    d = tmp_path / "d"
    d.mkdir()
    git(d, "init", "-q")
    dvc(dvc_bin, d, "init", "-q")
    (d / "weights.bin").write_bytes(os.urandom(200_000))
    xp("add", "weights.bin", cwd=d)
    xp("remote", "add", "-d", "box", sshd.url(tmp_path / "dvc-store"), cwd=d)
    xp("remote", "modify", "--local", "box", "keyfile", str(sshd.key), cwd=d)
    git(d, "add", "-A")
    git(d, "commit", "-qm", "weights")
    xp("push", cwd=d)
    e = tmp_path / "e"
    git(tmp_path, "clone", "-q", str(d), str(e))
    xp("remote", "modify", "--local", "box", "keyfile", str(sshd.key), cwd=e)
    dvc(dvc_bin, e, "pull")
    assert (e / "weights.bin").read_bytes() == (d / "weights.bin").read_bytes()


def test_ssh_failures_are_one_line_with_the_fix(sshd, tmp_path, xp):
    a = create(tmp_path / "a")
    xp("repro", cwd=a)
    configure(a, xp, sshd)
    sshd.known_hosts.write_text("")
    out = xp("push", cwd=a, expect=2).stderr
    assert "host key is not known" in out and "known_hosts" in out and out.count("\n") == 1, out
    sshd.known_hosts.write_text(sshd.host_line)
    stranger = tmp_path / "stranger"
    keygen(stranger)
    xp("remote", "modify", "--local", "box", "keyfile", str(stranger), cwd=a)
    out = xp("push", cwd=a, expect=2).stderr
    assert "refused the login" in out and "keyfile" in out and out.count("\n") == 1, out
    xp("remote", "modify", "box", "url", f"ssh://{sshd.user}@127.0.0.1:{free_port()}{sshd.store}", cwd=a)
    started = time.monotonic()
    out = xp("push", cwd=a, expect=2).stderr
    print(f"a closed port answered in {time.monotonic() - started:.1f}s")
    assert "cannot be reached" in out and out.count("\n") == 1, out
