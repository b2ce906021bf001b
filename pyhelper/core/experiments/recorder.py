"""The checkpoint recorder: the Unix socket an experiment run listens on, and the commits it writes.

`pyhelper.live` sends one JSON line (`version`, `type: checkpoint`, `step`); the recorder answers
one JSON line once the checkpoint commit is written and the experiment's ref moved to it (see
`checkpoint.py` for what a checkpoint holds). Requests are answered one at a time, so
checkpoints from several threads or processes form one chain.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.experiments.checkpoint import (
    SOCKET_DIR_PREFIX,
    TRAILER,
    Checkpoint,
    prune_dead_runs,
    prune_stale_socket_dirs,
)
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.project import Project
from pyhelper.core.storage.cache import CHECKPOINT_TEMP_PREFIX, clone, copy_hashing
from pyhelper.core.storage.hashing import HashInfo, StatIndex, file_md5
from pyhelper.live import ENV_RESUME, ENV_SOCKET, PROTOCOL_VERSION

if TYPE_CHECKING:
    from pyhelper.core.pipeline.repro import ReproEvent
    from pyhelper.core.storage.cache import Cache

# A file whose stat changed less than this long before it was hashed may change again without its
# stat changing (the clock ticks coarser than nanoseconds), so its hash is not remembered.
_RACY_NS = 50_000_000
_MAX_SOCKET_PATH = 100


class Recorder:
    """Listens for checkpoint requests while a pipeline runs, and records each one (a context manager).

    `project` is the user's project (its repository gets the commits and the ref); `work` is the
    work tree the pipeline runs in (the workspace itself, or a private one under `.xp/tmp/`).
    `parent` is the checkpoint a resumed run continues from (None: the chain starts at the baseline).
    `run_id` names the run in the checkpoints' trailers (default: random).
    """

    def __init__(self, project: Project, work: Project, *, baseline: str, name: str,
                 parent: str | None = None, resume: bool = False, run_id: str | None = None):
        self.project = project
        self.work = work
        self.baseline = baseline
        self.ref = ExpRef(baseline, name)
        self.tip = parent
        """The newest checkpoint of this run's chain (the final commit's parent), or None."""
        self.resume = resume
        self.recorded: list[Checkpoint] = []
        self.stage = ""
        self.run_id = run_id or os.urandom(6).hex()
        """Names the run in each checkpoint's trailer (a remote queue run passes `<entry>.<attempt>`)."""
        self._on_event: Callable[[ReproEvent], None] | None = None
        """Told of each checkpoint (kind "checkpoint", from the server thread): a source for notifications."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        """A pipe whose read end the server thread waits on beside the socket, to be told to stop."""
        self._socket_dir: str | None = None
        self.address = ""
        self._memo: dict[str, tuple[tuple[int, int, int, int], str]] = {}
        self._exclude: frozenset[str] = frozenset()
        self._persisted: tuple[str, ...] = ()
        self._live_file = project.xp_dir / "live" / f"{self.run_id}.json"

    @property
    def env(self) -> dict[str, str]:
        """What the stages' environment gets: where to send checkpoints, and whether to resume."""
        return {ENV_SOCKET: self.address, ENV_RESUME: "1" if self.resume else "0"}

    def watch(self, on_event: Callable[[ReproEvent], None]) -> Callable[[ReproEvent], None]:
        """Wraps a repro event callback to learn which stage is running (the checkpoint names it)."""
        def watched(event: ReproEvent) -> None:
            if event.kind == "running":
                self.stage = event.stage
            on_event(event)
        self._on_event = on_event
        return watched

    def __enter__(self) -> Recorder:
        from pyhelper.errors import XpError

        try:
            pipeline = self.work.pipeline()
        except XpError:
            pipeline = None  # The run reports it; checkpoints then have nothing to leave out.
        if pipeline is not None:
            outs = [(stage.repo_path(out.path), out) for stage in pipeline.stages.values() for out in stage.outs]
            self._exclude = frozenset(path for path, out in outs if out.cache)
            self._persisted = tuple(sorted({path for path, out in outs if out.cache and out.persist}))
        prune_dead_runs(self.project)
        tmp = self.project.ensure_xp_dir() / "tmp"
        tmp.mkdir(exist_ok=True)
        path = str(tmp / f"ck-{self.run_id}.sock")
        if len(path) > _MAX_SOCKET_PATH:  # Unix socket paths are short (108 bytes on Linux).
            prune_stale_socket_dirs()
            self._socket_dir = tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX)
            path = os.path.join(self._socket_dir, "s.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        os.chmod(path, 0o600)
        server.listen(16)
        self._server = server
        self.address = path
        self._write_live_file(None)
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="xp-checkpoints", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._wake is not None:
            os.write(self._wake[1], b"x")  # Ends the server thread's wait at once.
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._server is not None:
            self._server.close()
        for path in (self.address,):
            if path:
                Path(path).unlink(missing_ok=True)
        if self._socket_dir:
            os.rmdir(self._socket_dir)
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
        self._live_file.unlink(missing_ok=True)

    def _write_live_file(self, checkpoint: Checkpoint | None) -> None:
        """Writes `.xp/live/<run>.json` (renamed into place; no fsync: it only matters while this process lives)."""
        data = {"version": PROTOCOL_VERSION, "pid": os.getpid(), "host": socket.gethostname(),
                "ref": str(self.ref), "root": str(self.work.root), "socket": self.address,
                "step": checkpoint.step if checkpoint else None, "rev": checkpoint.rev if checkpoint else None}
        self._live_file.parent.mkdir(exist_ok=True)
        tmp = self._live_file.with_name(f".{self._live_file.name}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self._live_file)

    def _serve(self) -> None:
        """Answers requests one at a time, so checkpoints from several threads form one chain."""
        import select

        assert self._server is not None and self._wake is not None
        while not self._stop.is_set():
            watched: list[socket.socket | int] = [self._server, self._wake[0]]
            ready, _, _ = select.select(watched, [], [])
            if self._server not in ready:
                continue
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        try:
            request = json.loads(data)
            if not isinstance(request, dict) or request.get("version") != PROTOCOL_VERSION:
                raise ValueError(f"this xp speaks checkpoint protocol version {PROTOCOL_VERSION}, the stage sent "
                                 f"{request.get('version') if isinstance(request, dict) else request!r}; "
                                 "use the pyhelper.live of the xp that runs the stage")
            if request.get("type") != "checkpoint" or not isinstance(request.get("step"), int):
                raise ValueError(f"not a checkpoint request: {data[:200]!r}")
            checkpoint = self.record(request["step"])
            answer = {"version": PROTOCOL_VERSION, "ok": True, "rev": checkpoint.rev, "step": checkpoint.step,
                      "name": checkpoint.name}
        except Exception as exc:  # The stage gets the reason; xp's own run goes on.
            answer = {"version": PROTOCOL_VERSION, "ok": False, "error": str(exc) or type(exc).__name__}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(answer).encode() + b"\n")

    def record(self, step: int) -> Checkpoint:
        """Records the work tree and the persisted outputs as the next checkpoint of the chain.

        A `git gc` beside the run repacks: for a moment libgit2 may not find an object it has (its packs
        were swapped under it). The whole record is tried again then, on freshly opened repositories."""
        from pyhelper.core.experiments.save import WRITE_TRIES
        from pyhelper.core.git.gitcore import native

        git = native()
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                return self._record(step)
            except (KeyError, git.GitError) as exc:
                if "not found" not in str(exc) or attempt == WRITE_TRIES:
                    raise
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")

    def _record(self, step: int) -> Checkpoint:
        from pyhelper.core.git.gitcore import open_repository
        from pyhelper.core.git.gitrepo import snapshot_tree

        with self._lock:
            # Repositories of this thread's own: pygit2 objects are not shared between threads.
            repo = open_repository(str(self.project.root))
            work_repo = repo if self.work.home is None else open_repository(str(self.work.root))
            outs = self._capture_persisted()
            from pyhelper.core.experiments.save import (
                WRITE_TRIES,
                commit_tree,
                gc_held,
                lost_objects,
                missing_object,
                set_ref,
                written,
            )

            base_tree = repo[self.baseline].tree
            trailer = {"v": PROTOCOL_VERSION, "step": step, "stage": self.stage, "run": self.run_id,
                       "outs": {path: {"md5": info.md5, "size": info.size,
                                       **({"nfiles": info.nfiles} if info.isdir else {})}
                                for path, info in outs.items()}}
            message = (f"xp: checkpoint {self.ref.name}@{step}\n\n"
                       f"{TRAILER}: {json.dumps(trailer, sort_keys=True)}\n")

            def write() -> str:
                tree = snapshot_tree(work_repo, self.work.root, base_tree, exclude=self._exclude)
                return commit_tree(repo, tree, parent=self.tip or self.baseline, message=message)

            with gc_held(repo):
                for attempt in range(1, WRITE_TRIES + 1):  # Set, the ref keeps its objects; a lost one is rewritten.
                    commit = written(write)
                    missing_object(repo, commit, keep=True)  # Dated ahead before the ref: a running gc keeps them.
                    set_ref(repo, str(self.ref), commit)
                    missing = missing_object(repo, commit)
                    if missing is None:
                        break
                    if attempt == WRITE_TRIES:
                        raise lost_objects(f"checkpoint {self.ref.name}@{step}", missing)
            checkpoint = Checkpoint(self.ref, str(commit), step, self.stage, outs)
            self.tip = str(commit)
            self.recorded.append(checkpoint)
            self._write_live_file(checkpoint)
        if self._on_event is not None:
            from pyhelper.core.pipeline.repro import ReproEvent

            with contextlib.suppress(Exception):  # A listener's failure must not undo a recorded checkpoint.
                self._on_event(ReproEvent("checkpoint", self.stage, f"{checkpoint.name} {checkpoint.rev[:7]}"))
        return checkpoint

    def _capture_persisted(self) -> dict[str, HashInfo]:
        """Saves each persisted output into the object cache (unchanged ones cost a stat) and returns the hashes."""
        from pyhelper.core.storage.cache import Cache

        cache = Cache(self.project.cache_dir, _MemoIndex(self._memo))
        outs: dict[str, HashInfo] = {}
        for rel in self._persisted:
            path = self.work.root / rel
            try:
                st = path.stat()
            except FileNotFoundError:
                continue  # Not written yet: the checkpoint has none.
            if os.path.isdir(path):
                info = cache.index.hash_path(path)
                assert info is not None
                cache.save(path, info)
            else:
                info = HashInfo(md5=self._capture_file(cache, path, st), size=st.st_size,
                                isexec=bool(st.st_mode & 0o100))
            outs[rel] = info
        return outs

    def _capture_file(self, cache: Cache, path: Path, st: os.stat_result) -> str:
        """The file's md5, after storing its bytes in the cache: one read that both hashes and copies."""
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._memo.get(str(path))
        if known is not None and known[0] == key and cache.object_path(known[1]).exists():
            return known[1]
        started = time.time_ns()
        # The temporary copy sits at the cache's root: same file system as the objects, and out of
        # the way of anything that lists objects (`xp exp clean`, DVC).
        cache.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.root, prefix=f"{CHECKPOINT_TEMP_PREFIX}{os.getpid()}-")
        try:
            os.close(fd)
            # A copy-on-write clone costs nothing; hashing it is the whole cost.
            md5 = file_md5(tmp) if clone(path, Path(tmp)) else copy_hashing(path, Path(tmp))
            os.chmod(tmp, 0o444)
            target = cache.object_path(md5)
            if target.exists():
                os.unlink(tmp)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        after = path.stat()
        if (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == key \
                and started - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
            self._memo[str(path)] = (key, md5)
        return md5


class _MemoIndex(StatIndex):
    """A stat index kept in memory: the run's own `.xp/index.db` transaction must not be waited for."""

    def __init__(self, memo: dict[str, tuple[tuple[int, int, int, int], str]]):
        super().__init__(None)
        self._memo = memo

    def file_hash(self, path: Path, st: os.stat_result | None = None) -> str:
        """The md5 of a file, remembered by stat for the rest of the run."""
        st = st or path.stat()
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._memo.get(str(path))
        if known is not None and known[0] == key:
            return known[1]
        md5 = super().file_hash(path, st)
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
            self._memo[str(path)] = (key, md5)
        return md5
