"""S3 remotes through s3fs (as DVC uses), against moto's S3 server started on loopback by each test:
push, pull into a fresh clone, DVC 3.67.1 (with dvc-s3) reading what xp pushed and the other way round,
a corrupted object refused, and the failures a user meets (no credentials, no bucket, no server) as one
line each, within the timeout."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyhelper.demo import create
from tests.conftest import free_port, git, wait_for_port
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401 (fixture)


@pytest.fixture
def s3(tmp_path, monkeypatch):
    """moto's S3 server on a free loopback port, with a bucket `team`; its endpoint url."""
    # Nothing from this machine's AWS set-up may leak in (or be needed).
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115 - the server writes to it until the test ends.
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port, proc, tmp_path / "moto.log", "moto's S3 server")
    _client(url).create_bucket(Bucket="team")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def _client(url: str):
    import boto3

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def configure(repo: Path, xp, url: str, *, keys: bool = True, bucket: str = "team") -> None:
    xp("remote", "add", "-d", "cloud", f"s3://{bucket}/store", cwd=repo)
    xp("remote", "modify", "cloud", "endpointurl", url, cwd=repo)
    xp("remote", "modify", "cloud", "connect_timeout", "3", cwd=repo)
    if keys:
        secrets(repo, xp)


def secrets(repo: Path, xp) -> None:
    """This machine's keys, in config.local (never committed), as a teammate sets their own."""
    xp("remote", "modify", "--local", "cloud", "access_key_id", "testing", cwd=repo)
    xp("remote", "modify", "--local", "cloud", "secret_access_key", "testing", cwd=repo)


def stored(url: str, prefix: str = "store/") -> dict[str, bytes]:
    """md5 → bytes of every object under the prefix of bucket `team`."""
    s3 = _client(url)
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="team", Prefix=prefix):
        for item in page.get("Contents", []):
            parts = item["Key"].rsplit("/", 2)
            found[parts[1] + parts[2]] = s3.get_object(Bucket="team", Key=item["Key"])["Body"].read()
    return found


def test_push_to_s3_and_pull_on_a_fresh_clone(s3, tmp_path, xp):
    a = create(tmp_path / "a")
    xp("repro", cwd=a)
    configure(a, xp, s3)
    assert ".xpconfig.local" in (a / ".gitignore").read_text(), "the keys stay out of git"
    git(a, "add", "-A")
    git(a, "commit", "-qm", "s3 remote")
    assert "secret_access_key" not in git(a, "show", "HEAD:.xpconfig")
    pushed = json.loads(xp("push", "--json", cwd=a).stdout)
    objects = stored(s3)
    assert pushed["moved"] == len(objects) > 0
    assert all(hashlib.md5(data).hexdigest() == md5.removesuffix(".dir") for md5, data in objects.items())
    assert json.loads(xp("push", "--json", cwd=a).stdout)["moved"] == 0, "only what is missing moves"
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(a), str(b))
    secrets(b, xp)
    xp("pull", cwd=b)
    assert (b / "model/model.json").read_bytes() == (a / "model/model.json").read_bytes()
    assert "Running stage" not in xp("repro", cwd=b).stdout


def test_dvc_reads_what_xp_pushed_to_s3_and_the_other_way_round(s3, tmp_path, dvc_bin, xp):  # noqa: F811
    a = tmp_path / "a"
    a.mkdir()
    git(a, "init", "-q")
    dvc(dvc_bin, a, "init", "-q")
    (a / "data").mkdir()
    for i in range(20):
        (a / "data" / f"{i}.csv").write_text(f"x,y\n{i},{i * i}\n")
    xp("add", "data", cwd=a)
    configure(a, xp, s3)
    git(a, "add", "-A")
    git(a, "commit", "-qm", "data on s3")
    xp("push", cwd=a)
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(a), str(b))
    secrets(b, xp)
    dvc(dvc_bin, b, "pull")
    assert sorted(p.name for p in (b / "data").iterdir()) == sorted(p.name for p in (a / "data").iterdir())
    # DVC pushes new data; xp pulls it.
    (b / "more.txt").write_text("from dvc\n")
    dvc(dvc_bin, b, "add", "-q", "more.txt")
    dvc(dvc_bin, b, "push", "-q")
    git(b, "add", "-A")
    git(b, "commit", "-qm", "more")
    git(a, "pull", "-q", str(b), "HEAD")
    xp("pull", cwd=a)
    assert (a / "more.txt").read_text() == "from dvc\n"


def test_a_corrupted_object_on_s3_is_refused(s3, tmp_path, xp):
    a = create(tmp_path / "a")
    xp("repro", cwd=a)
    configure(a, xp, s3)
    xp("push", cwd=a)
    model = hashlib.md5((a / "model/model.json").read_bytes()).hexdigest()
    _client(s3).put_object(Bucket="team", Key=f"store/files/md5/{model[:2]}/{model[2:]}", Body=b"tampered")
    (a / "model/model.json").unlink()
    for path in (a / ".xp" / "cache").rglob(model[2:]):
        path.unlink()
    out = xp("pull", cwd=a, expect=2).stderr
    assert "do not hold what their names say" in out and model in out
    assert not (a / "model/model.json").exists()


def test_s3_failures_are_one_line_with_the_fix(s3, tmp_path, xp):
    a = create(tmp_path / "a")
    xp("repro", cwd=a)
    configure(a, xp, s3, keys=False)
    out = xp("push", cwd=a, expect=2).stderr
    assert "no credentials were found" in out and "access_key_id" in out and out.count("\n") == 1, out
    secrets(a, xp)
    xp("remote", "modify", "cloud", "url", "s3://no-such-bucket/store", cwd=a)
    out = xp("push", cwd=a, expect=2).stderr
    assert "bucket does not exist" in out and out.count("\n") == 1, out
    closed = free_port()
    xp("remote", "modify", "cloud", "url", "s3://team/store", cwd=a)
    xp("remote", "modify", "cloud", "endpointurl", f"http://127.0.0.1:{closed}", cwd=a)
    started = time.monotonic()
    out = xp("push", cwd=a, expect=2).stderr
    print(f"an unreachable endpoint answered in {time.monotonic() - started:.1f}s")
    assert "cannot be reached" in out or "EndpointConnectionError" in out, out
    assert out.count("\n") == 1, out
