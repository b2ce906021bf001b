"""`pyhelper.live`: what training code imports to log params, metrics, steps and checkpoints.

    from pyhelper.live import Live

    with Live() as live:                       # files go to dvclive/, as DVCLive writes them
        live.log_param("lr", 0.1)
        for epoch in range(live.step, epochs):  # with Live(resume=True), where the run stopped
            live.log_metric("train/loss", loss)
            live.make_checkpoint()              # under `xp exp run`: blocks until xp recorded it
            live.next_step()

The files are DVCLive's: `<dir>/metrics.json` (the latest value of each metric, nested by the
`/` or `.` in its name, plus `step`), `<dir>/plots/metrics/<name>.tsv` (a `step` column and a
value column, one row per step) and `<dir>/params.yaml`. Each is written to a temporary file and
renamed, so a reader (DVC, `xp exp show`, an editor) never sees half of one.

`make_checkpoint()` outside an xp run only writes the files. Under `xp exp run` (in the
workspace, `--temp` or a queue worker) xp sets `XP_CHECKPOINT_SOCKET` to a Unix socket it
listens on; the checkpoint request is one JSON line and the answer is one JSON line, both
carrying `version` (see `PROTOCOL_VERSION`).

This module imports only the standard library's light modules: training code pays nothing for
git, YAML or the rest of xp. Even `json` (which brings `re`, most of the cost of importing it)
waits for the first write.
"""

from __future__ import annotations

import math
import os
import threading

__all__ = ["Live", "LiveError", "PROTOCOL_VERSION", "ENV_SOCKET", "ENV_RESUME"]

PROTOCOL_VERSION = 1
"""Version of the checkpoint request/answer JSON lines; xp refuses a version it does not speak."""
ENV_SOCKET = "XP_CHECKPOINT_SOCKET"
"""Set by xp for a stage it runs as part of an experiment: the Unix socket checkpoints go to."""
ENV_RESUME = "XP_LIVE_RESUME"
"""Set by xp: "1" when the run resumes a checkpoint, "0" when it starts over (resume=True is ignored)."""


class LiveError(RuntimeError):
    """A checkpoint could not be recorded (xp answered with an error, or is gone)."""


class Live:
    """Logs params, metrics and steps to DVCLive's files, and makes checkpoints; a context manager."""

    def __init__(self, dir: str = "dvclive", *, resume: bool = False):  # noqa: A002 - DVCLive's name.
        self.dir = dir
        self._lock = threading.RLock()
        self._step = 0
        self._logged_step: int | None = None
        """The step of the latest metric logged (what metrics.json's `step` says), if any."""
        self._summary: dict = {}
        self._params: dict = {}
        self._rows: dict[tuple[str, ...], list[tuple[int, str]]] = {}
        """Metric name parts → (step, value text) rows of its TSV file."""
        self._dirty: set[tuple[str, ...]] = set()
        if resume and os.environ.get(ENV_RESUME) != "0":
            self._load()
        else:
            self._clear()

    # -- The public API (DVCLive's names) -------------------------------------------------------

    @property
    def step(self) -> int:
        """The current step: rows logged now get this step."""
        return self._step

    @step.setter
    def step(self, value: int) -> None:
        with self._lock:
            self._step = int(value)

    @property
    def metrics_file(self) -> str:
        """`<dir>/metrics.json`."""
        return os.path.join(self.dir, "metrics.json")

    @property
    def params_file(self) -> str:
        """`<dir>/params.yaml`."""
        return os.path.join(self.dir, "params.yaml")

    @property
    def plots_dir(self) -> str:
        """`<dir>/plots`."""
        return os.path.join(self.dir, "plots")

    @property
    def summary(self) -> dict:
        """The latest value of each metric, nested by name (what metrics.json holds)."""
        return self._summary

    def log_param(self, name: str, value) -> None:
        """Records a param (nested by `/` or `.` in its name) and rewrites params.yaml."""
        with self._lock:
            _set_nested(self._params, _parts(name), value)
            _write(self.params_file, _yaml(self._params))

    def log_params(self, params: dict) -> None:
        """Records several params at once."""
        with self._lock:
            for name, value in params.items():
                _set_nested(self._params, _parts(name), value)
            _write(self.params_file, _yaml(self._params))

    def log_metric(self, name: str, value) -> None:
        """Records a metric's value at the current step (written at the next step, checkpoint or end)."""
        parts = _parts(name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(f"metric '{name}' must be a number or a string, not {type(value).__name__}")
        with self._lock:
            _set_nested(self._summary, parts, value)
            rows = self._rows.setdefault(parts, [])
            if rows and rows[-1][0] == self._step:
                rows[-1] = (self._step, _cell(value))  # Logged twice in one step: the last value counts.
            else:
                rows.append((self._step, _cell(value)))
            self._dirty.add(parts)
            self._logged_step = self._step

    def make_summary(self) -> None:
        """Writes metrics.json and every metric's TSV file that changed."""
        with self._lock:
            for parts in sorted(self._dirty):
                lines = ["step\t" + parts[-1]] + [f"{step}\t{text}" for step, text in self._rows[parts]]
                _write(os.path.join(self.plots_dir, "metrics", *parts[:-1], parts[-1] + ".tsv"),
                       "\n".join(lines) + "\n")
            self._dirty.clear()
            summary = dict(self._summary)
            if self._logged_step is not None:
                summary["step"] = self._logged_step
            import json

            _write(self.metrics_file, json.dumps(_jsonable(summary), indent=4) + "\n")

    def next_step(self) -> None:
        """Writes the files, then moves to the next step."""
        with self._lock:
            self.make_summary()
            self._step += 1

    def make_checkpoint(self) -> str | None:
        """Writes the files; under an xp run, blocks until xp recorded a checkpoint and returns its commit id.

        Outside an xp run (no `XP_CHECKPOINT_SOCKET`) it only writes the files and returns None.
        Safe to call from several threads: checkpoints are recorded one after the other.
        """
        with self._lock:
            self.make_summary()
            address = os.environ.get(ENV_SOCKET)
            if not address:
                return None
            step = self._logged_step if self._logged_step is not None else self._step
            answer = _ask(address, {"version": PROTOCOL_VERSION, "type": "checkpoint", "step": step,
                                    "dir": self.dir, "pid": os.getpid()})
            if not answer.get("ok"):
                raise LiveError(f"xp could not record the checkpoint at step {step}: {answer.get('error', answer)}")
            return answer.get("rev")

    def end(self) -> None:
        """Writes the files one last time."""
        self.make_summary()

    def __enter__(self) -> Live:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    # -- Starting over, or where the files say the run stopped ------------------------------------

    def _clear(self) -> None:
        """Removes the metrics DVCLive-style files of an earlier run (as DVCLive does without resume)."""
        import shutil

        for path in (self.metrics_file, self.params_file):
            if os.path.isfile(path):
                os.remove(path)
        shutil.rmtree(os.path.join(self.plots_dir, "metrics"), ignore_errors=True)

    def _load(self) -> None:
        """Reads metrics.json, params.yaml's absence aside, and the TSV rows, to continue after their step."""
        import json

        try:
            with open(self.metrics_file, encoding="utf-8") as handle:
                summary = json.load(handle)
        except (OSError, ValueError):
            return  # Nothing to resume from: start at step 0.
        if not isinstance(summary, dict):
            return
        last = summary.pop("step", None)
        self._summary = summary
        if isinstance(last, int) and not isinstance(last, bool):
            self._step = last + 1
            self._logged_step = last
        root = os.path.join(self.plots_dir, "metrics")
        for folder, _, files in os.walk(root):
            for name in files:
                if not name.endswith(".tsv"):
                    continue
                rel = os.path.relpath(os.path.join(folder, name[:-4]), root)
                parts = tuple(rel.split(os.sep))
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    lines = handle.read().splitlines()[1:]
                rows = []
                for line in lines:
                    step, _, text = line.partition("\t")
                    # Rows logged after the step being resumed belong to the abandoned future.
                    if step.isdigit() and int(step) < self._step:
                        rows.append((int(step), text.split("\t")[-1]))
                self._rows[parts] = rows
                self._dirty.add(parts)


def _parts(name: str) -> tuple[str, ...]:
    """A metric or param name split on `/` and `.` (each part non-empty)."""
    parts = tuple(name.replace(".", "/").split("/"))
    if not name or any(not part for part in parts):
        raise ValueError(f"'{name}' is not a valid name: use parts separated by '/' or '.', none empty")
    return parts


def _set_nested(data: dict, parts: tuple[str, ...], value) -> None:
    for part in parts[:-1]:
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[parts[-1]] = value


def _cell(value) -> str:
    """A value as a TSV cell."""
    return repr(value) if isinstance(value, float) else str(value).replace("\t", " ").replace("\n", " ")


def _jsonable(data):
    """`data` with NaN and infinities as strings: JSON has no literal for them."""
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    return data


def _yaml(data: dict, indent: str = "") -> str:
    """A small YAML emitter for params: block mappings, and JSON-style flow values (JSON is YAML)."""
    import json

    lines = []
    for key, value in data.items():
        key_text = key if _plain_key(str(key)) else json.dumps(str(key))
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key_text}:")
            lines.append(_yaml(value, indent + "  ").rstrip("\n"))
        else:
            lines.append(f"{indent}{key_text}: {_yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def _plain_key(key: str) -> bool:
    return bool(key) and (key[0].isalpha() or key[0] == "_") and all(c.isalnum() or c in "_-" for c in key) \
        and key.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n")


def _yaml_scalar(value) -> str:
    import json

    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_yaml_scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (bool, int, float, str)) or value is None:
        return json.dumps(value)
    return json.dumps(str(value))


def _write(path: str, text: str) -> None:
    """Writes `text` to a temporary file beside `path` and renames it over `path`.

    No fsync: the point is that readers never see half a file, and a training loop should not
    wait for the disk at every step.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _ask(address: str, request: dict) -> dict:
    """Sends one JSON line to xp's checkpoint socket and returns its one-line JSON answer."""
    import json
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(address)
            conn.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise LiveError(f"the xp run that started this process is gone ({ENV_SOCKET}={address}: {exc}); "
                        "the checkpoint was not recorded") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise LiveError(f"xp closed the checkpoint connection without an answer ({data[:200]!r})") from None
    if not isinstance(answer, dict):
        raise LiveError(f"xp answered the checkpoint with {answer!r}")
    return answer
