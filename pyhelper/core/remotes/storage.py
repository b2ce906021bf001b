"""Where a remote's objects live, in DVC 3's layout (`files/md5/ab/cdef…`, `.dir` manifests beside the files).

One small interface (`Storage`) for every type: which of these objects are missing (one listing per
prefix folder, never a request per object), upload one (atomically: a temporary name, then a rename,
so a killed push leaves no half object under its final name), download one to a path. The local
folder (also a mounted shared disk) is built in; other types come through the fsspec filesystems DVC
itself uses, imported only when such a remote is used.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pyhelper.core.credentials import redact
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.remotes.config import Remote

TEMP_PREFIX = ".tmp-xp-"
"""An object being uploaded, beside its final name: `.tmp-xp-PID-…`."""


class Storage(Protocol):
    """A remote's object store."""

    label: str
    """How messages name it: `'store' (/mnt/shared/store)`."""

    def missing(self, md5s: Iterable[str]) -> set[str]:
        """Those of `md5s` (`abc…` or `abc….dir`) the remote does not have."""

    def upload(self, source: Path, md5: str) -> None:
        """Stores the file `source` as object `md5`, atomically."""

    def download(self, md5: str, dest: Path) -> str:
        """Writes object `md5` to `dest` (a temporary path) and returns the md5 of the bytes written (computed as
        they arrive, so the caller's check costs no second read); FileNotFoundError when absent."""

    def runs(self) -> list[str]:
        """Every file below the remote's `runs/` (DVC's run-cache entries), as paths relative to it; one listing."""

    def upload_run(self, source: Path, name: str) -> None:
        """Stores the file `source` as `runs/NAME`, atomically."""

    def download_run(self, name: str, dest: Path, limit: int) -> int:
        """Writes `runs/NAME` to `dest` and returns its size; a file larger than `limit` bytes is not downloaded
        (its size is returned); FileNotFoundError when absent."""


RUNS = "runs"
"""The folder of DVC's run-cache entries, at the root of a remote (beside `files/`)."""


def object_key(md5: str) -> str:
    """The object's path below the remote's root."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


class LocalStorage:
    """A folder (local or a mounted shared disk)."""

    def __init__(self, root: Path, label: str):
        self.root = root
        self.label = label

    def missing(self, md5s: Iterable[str]) -> set[str]:
        by_prefix: dict[str, list[str]] = defaultdict(list)
        for md5 in md5s:
            by_prefix[md5[:2]].append(md5)
        absent: set[str] = set()
        for prefix, wanted in by_prefix.items():
            try:
                present = set(os.listdir(self.root / "files" / "md5" / prefix))
            except FileNotFoundError:
                present = set()
            absent.update(md5 for md5 in wanted if md5[2:] not in present)
        return absent

    def upload(self, source: Path, md5: str) -> None:
        self._put(source, object_key(md5))

    def runs(self) -> list[str]:
        found: list[str] = []
        top = self.root / RUNS
        for folder, _, files in os.walk(top):
            rel = os.path.relpath(folder, top)
            found.extend(name if rel == "." else f"{rel}/{name}" for name in files if not name.startswith(TEMP_PREFIX))
        return found

    def upload_run(self, source: Path, name: str) -> None:
        self._put(source, f"{RUNS}/{name}")

    def download_run(self, name: str, dest: Path, limit: int) -> int:
        source = self.root / RUNS / name
        size = source.stat().st_size
        if size <= limit:
            shutil.copyfile(source, dest)
        return size

    def _put(self, source: Path, key: str) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o444)  # As DVC leaves objects in a local remote: nobody edits one in place.
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def download(self, md5: str, dest: Path) -> str:
        from pyhelper.core.storage.cache import copy_hashing

        return copy_hashing(self.root / object_key(md5), dest)  # Holes stay holes.


class FsspecStorage:
    """A remote reached through an fsspec filesystem (s3fs for S3 and S3-compatible servers, sshfs for SSH)."""

    def __init__(self, fs: Any, root: str, label: str, *, atomic_put: bool):
        self.fs = fs
        self.root = root.rstrip("/")
        self.label = label
        self.atomic_put = atomic_put
        """True when a put is all or nothing by itself (S3: an object appears once its upload completed)."""

    def _key(self, md5: str) -> str:
        return f"{self.root}/{object_key(md5)}"

    def missing(self, md5s: Iterable[str]) -> set[str]:
        wanted = set(md5s)
        if not wanted:
            return set()
        prefixes = {md5[:2] for md5 in wanted}
        present: set[str] = set()
        with translated(self.label):
            if len(prefixes) > 16:  # Many: one (paginated) listing of everything beats a request per folder.
                names = self.fs.find(f"{self.root}/files/md5")
            else:
                names = []
                for prefix in prefixes:
                    try:
                        names.extend(self.fs.ls(f"{self.root}/files/md5/{prefix}", detail=False))
                    except FileNotFoundError:
                        continue
        for name in names:
            parts = str(name).rstrip("/").rsplit("/", 2)
            if len(parts) == 3:
                present.add(parts[1] + parts[2])
        return wanted - present

    def upload(self, source: Path, md5: str) -> None:
        self._put(source, self._key(md5))

    def runs(self) -> list[str]:
        top = f"{self.root}/{RUNS}"
        with translated(self.label):
            try:
                names = self.fs.find(top)
            except FileNotFoundError:
                return []
        prefix = top.lstrip("/") + "/"
        found = []
        for name in names:
            rel = str(name).lstrip("/")
            if rel.startswith(prefix) and not rel.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
                found.append(rel[len(prefix):])
        return found

    def upload_run(self, source: Path, name: str) -> None:
        self._put(source, f"{self.root}/{RUNS}/{name}")

    def download_run(self, name: str, dest: Path, limit: int) -> int:
        key = f"{self.root}/{RUNS}/{name}"
        with translated(self.label):
            size = int(self.fs.info(key).get("size") or 0)
            if size <= limit:
                self.fs.get_file(key, str(dest))
        return size

    def _put(self, source: Path, key: str) -> None:
        with translated(self.label):
            if self.atomic_put:
                self.fs.put_file(str(source), key)
                return
            folder = key.rsplit("/", 1)[0]
            self.fs.makedirs(folder, exist_ok=True)
            tmp = f"{folder}/{TEMP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
            self.fs.put_file(str(source), tmp)
            try:
                self.fs.mv(tmp, key)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(tmp)
                # SFTP's rename refuses an existing target: another push wrote the same object meanwhile.
                with contextlib.suppress(Exception):
                    if self.fs.exists(key):
                        return
                raise

    def download(self, md5: str, dest: Path) -> str:
        from pyhelper.core.storage.hashing import file_md5

        # The library's own download (one streamed GET on S3; reading through `open` costs a ranged request per
        # block, 3x slower), then the md5 of what landed, read back from the page cache.
        with translated(self.label):
            self.fs.get_file(self._key(md5), str(dest))
        return file_md5(dest)


@contextlib.contextmanager
def translated(label: str) -> Iterator[None]:
    """A storage library's errors as one line naming the remote and the fix (FileNotFoundError passes through:
    callers take it as an object that is not there)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        if "PermissionDenied" in _chain(exc):  # asyncssh's (sshfs re-raises it as a PermissionError): the login.
            raise BadInput(f"remote {label}: the SSH server refused the login ({_first_line(exc)})",
                           hint="check the user (`xp remote modify NAME user USER`) and the key "
                                "(`xp remote modify --local NAME keyfile PATH`)") from None
        fix = ("check its credentials (`xp remote modify --local NAME access_key_id …`, a profile, or the AWS_* "
               "variables) and that they may read and write there") if "(s3://" in label else \
            "check that this user may read and write there"
        raise BadInput(f"remote {label} refused access: {_first_line(exc)}", hint=fix) from None
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and exc.errno not in _NETWORK_ERRNOS:
            raise  # The local disk (full, read-only): the CLI says those itself.
        raise BadInput(f"remote {label} cannot be reached: {_first_line(exc)}",
                       hint="check the url and the network, then run the same command again") from None
    except Exception as exc:  # botocore's and asyncssh's own classes, imported only when used.
        name = type(exc).__name__
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            raise BadInput(f"remote {label}: no credentials were found",
                           hint="set them with `xp remote modify --local NAME access_key_id …` and "
                                "`secret_access_key …`, a `profile`, or the AWS_* variables") from None
        if name in ("NoSuchBucket", "ClientError") and "NoSuchBucket" in str(exc):
            raise BadInput(f"remote {label}: the bucket does not exist", hint="create it, or fix the url") from None
        if name == "HostKeyNotVerifiable":
            raise BadInput(f"remote {label}: the server's host key is not known ({_first_line(exc)})",
                           hint="check it and add it to ~/.ssh/known_hosts (`ssh-keyscan -p PORT HOST >> "
                                "~/.ssh/known_hosts`, or log in once with `ssh`)") from None
        if name in ("KeyExchangeFailed", "DisconnectError", "ConnectionLost"):
            raise BadInput(f"remote {label}: the SSH connection failed ({_first_line(exc)})",
                           hint="check the host and port, then run the same command again") from None
        if name.endswith(("Error", "Exception")) and type(exc).__module__.split(".")[0] in _REMOTE_LIBRARIES:
            raise BadInput(f"remote {label}: {name}: {_first_line(exc)}",
                           hint="check the remote's url and options (`xp remote list --json`)") from None
        raise


_NETWORK_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
                   errno.EPIPE, errno.ECONNABORTED}
_REMOTE_LIBRARIES = {"botocore", "aiobotocore", "s3fs", "asyncssh", "sshfs", "aiohttp"}


def _chain(exc: BaseException) -> set[str]:
    """The class names of `exc` and the errors it was raised from."""
    names: set[str] = set()
    seen: BaseException | None = exc
    while seen is not None and len(names) < 10:
        names.add(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return names


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _bool(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _s3(remote: Remote) -> FsspecStorage:
    try:
        import s3fs
    except ImportError:
        raise BadInput(f"remote '{remote.name}' is on S3, and the S3 support is not installed",
                       hint="pip install 'xp-experiments[s3]' (s3fs, as DVC uses)") from None
    options = remote.options
    client: dict[str, Any] = {}
    if "endpointurl" in options:
        client["endpoint_url"] = options["endpointurl"]
    if "region" in options:
        client["region_name"] = options["region"]
    if "ssl_verify" in options:
        client["verify"] = _bool(options["ssl_verify"]) if options["ssl_verify"].lower() in (
            "true", "false") else options["ssl_verify"]
    config: dict[str, Any] = {"connect_timeout": float(options.get("connect_timeout", 10)),
                              "read_timeout": float(options.get("read_timeout", 60)),
                              "retries": {"max_attempts": 3, "mode": "standard"}}
    kwargs: dict[str, Any] = {"client_kwargs": client, "config_kwargs": config,
                              "use_ssl": _bool(options.get("use_ssl", "true"))}
    if "access_key_id" in options:
        kwargs["key"] = options["access_key_id"]
    if "secret_access_key" in options:
        kwargs["secret"] = options["secret_access_key"]
    if "session_token" in options:
        kwargs["token"] = options["session_token"]
    if "profile" in options:
        kwargs["profile"] = options["profile"]
    if _bool(options.get("allow_anonymous_login", "false")):
        kwargs["anon"] = True
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **kwargs)
    root = remote.url.split("://", 1)[1]
    return FsspecStorage(fs, root, f"'{remote.name}' ({redact(remote.url)})", atomic_put=True)


def _ssh(remote: Remote) -> FsspecStorage:
    """`ssh://[user@]host[:port]/path`, with DVC's options (user, port, keyfile, password, passphrase, timeout)."""
    from urllib.parse import urlsplit

    try:
        import sshfs
    except ImportError:
        raise BadInput(f"remote '{remote.name}' is on SSH, and the SSH support is not installed",
                       hint="pip install 'xp-experiments[ssh]' (sshfs, as DVC uses)") from None
    parts = urlsplit(remote.url)
    options = remote.options
    if not parts.hostname or parts.hostname.startswith("-"):
        raise BadInput(f"remote '{remote.name}': '{redact(remote.url)}' names no host", hint="use ssh://[USER@]HOST[:PORT]/PATH")
    kwargs: dict[str, Any] = {"connect_timeout": float(options.get("connect_timeout", options.get("timeout", 30))),
                              "encryption_algs": ["aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"],
                              "compression_algs": None}
    user = options.get("user") or parts.username
    if user:
        kwargs["username"] = user
    port = options.get("port") or parts.port
    if port:
        kwargs["port"] = int(port)
    if "keyfile" in options:
        kwargs["client_keys"] = [os.path.expanduser(options["keyfile"])]
    for option in ("password", "passphrase"):
        if option in options:
            kwargs[option] = options[option]
    # The host must be in ~/.ssh/known_hosts: asyncssh alone would skip the check when that file is empty or
    # absent, and a push to an impostor gives away the data.
    known = Path(os.path.expanduser("~/.ssh/known_hosts"))
    kwargs["known_hosts"] = known.read_bytes() if known.is_file() else b""
    label = f"'{remote.name}' ({redact(remote.url)})"
    with translated(label):
        fs = sshfs.SSHFileSystem(parts.hostname, skip_instance_cache=True, **kwargs)
    return FsspecStorage(fs, parts.path or "/", label, atomic_put=False)


def open_storage(remote: Remote, *, create: bool = False, check: bool = True) -> Storage:
    """The storage of `remote`; `create`: a local folder that does not exist yet is made (a push); without
    `check`, a folder that is not there is taken as an empty remote (a status)."""
    label = f"'{remote.name}' ({redact(remote.url)})"
    if remote.scheme == "local":
        root = Path(os.path.expanduser(remote.url.removeprefix("file://")))
        if create:
            root.mkdir(parents=True, exist_ok=True)
        elif check and not root.is_dir():
            raise BadInput(f"remote {label} is not a folder xp can read",
                           hint="mount it, or fix its url with `xp remote modify "
                                f"{remote.name} url PATH`")
        return LocalStorage(root, label)
    if remote.scheme == "s3":
        return _s3(remote)
    if remote.scheme == "ssh":
        return _ssh(remote)
    raise BadInput(f"remote {label} is of type '{remote.scheme}', which this version of xp cannot reach yet "
                   "(folders, S3 and SSH only)",
                   hint="use `dvc push`/`dvc pull` for it meanwhile: xp reads the same cache")
