"""Remotes as DVC configures them: `.dvc/config` (committed) and `.dvc/config.local` (this machine's
secrets), read and written with configobj, the library DVC itself uses, so the files are DVC's byte for byte.

    [core]
        remote = store
    ['remote "store"']
        url = /mnt/shared/store

A project without `.dvc/` (a dvc.yaml at the git root) keeps the same sections in `.xpconfig` and
`.xpconfig.local` at its root: creating `.dvc/` would make DVC (and xp) look for the cache in
`.dvc/cache` and lose sight of what `.xp/cache` holds. `xp remote add` writes the `.local` file's name
into `.gitignore` so credentials stay out of git.

The files are a teammate's (they arrive with `git pull`): a remote's name must be a plain word, its url
and options are only ever values (never options of a command), and a file that does not parse is one
error naming it and the fix.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.project import Project

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""What a remote may be called: DVC takes more, but a name is also shown and typed on command lines."""

OPTIONS: dict[str, frozenset[str]] = {
    # The options DVC documents per storage type (`dvc remote modify`); `url` is set by `remote add`.
    "common": frozenset({"url", "jobs", "verify", "timeout", "connect_timeout", "read_timeout"}),
    "s3": frozenset({"region", "profile", "credentialpath", "configpath", "endpointurl", "access_key_id",
                     "secret_access_key", "session_token", "use_ssl", "ssl_verify", "listobjects",
                     "sse", "sse_kms_key_id", "acl", "grant_read", "grant_full_control", "allow_anonymous_login",
                     "version_aware", "worktree", "use_path_style", "cred_path"}),
    "ssh": frozenset({"user", "port", "keyfile", "password", "ask_password", "passphrase", "ask_passphrase",
                      "gss_auth", "allow_agent", "timeout", "known_hosts"}),
    "local": frozenset(),
}
SECRETS = frozenset({"secret_access_key", "session_token", "password", "passphrase", "access_key_id"})
"""Options DVC's docs say belong in `config.local` (`remote modify --local`)."""


@dataclass(frozen=True)
class Remote:
    """A configured remote: its name, url (a relative local path already made absolute) and options."""

    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """`local`, `s3`, `ssh`… (from the url)."""
        return scheme_of(self.url)


@dataclass(frozen=True)
class Remotes:
    """Every remote of the project and the default one's name (or None)."""

    remotes: dict[str, Remote]
    default: str | None
    files: tuple[str, ...]
    """The config files read, relative to the project (for messages)."""

    def get(self, name: str | None) -> Remote:
        """The remote called `name`, or the default one; a clear error when there is none."""
        if name is None:
            if self.default is None:
                raise BadInput("no default remote is configured",
                               hint="add one with `xp remote add -d NAME URL` (or pass -r NAME)")
            name = self.default
        found = self.remotes.get(name)
        if found is None:
            known = ", ".join(sorted(self.remotes)) or "none yet"
            raise BadInput(f"there is no remote named '{name[:80]}' (configured: {known})",
                           hint="see `xp remote list`, or add it with `xp remote add NAME URL`")
        return found


def scheme_of(url: str) -> str:
    """The storage type a url names: `s3://`, `ssh://`, … or `local` for a path (or `file://`)."""
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
    if not match or match.group(1).lower() == "file":
        return "local"
    return match.group(1).lower()


def config_paths(project: Project) -> tuple[Path, Path]:
    """(the committed config, this machine's config) of the project."""
    dvc_dir = project.project_root / ".dvc"
    if dvc_dir.is_dir():
        return dvc_dir / "config", dvc_dir / "config.local"
    return project.project_root / ".xpconfig", project.project_root / ".xpconfig.local"


def _load(path: Path, project: Project, text: str | None = None) -> Any:
    """The file as a ConfigObj (empty when absent); a broken one is one error naming it and the fix. `text`: the
    file's content as a commit holds it (then `path` only names it)."""
    from configobj import ConfigObj, ConfigObjError

    if text is None and not path.is_file():
        return ConfigObj(encoding="utf-8", write_empty_values=True)
    size = len(text.encode()) if text is not None else path.stat().st_size
    if size > 1 << 20:
        raise BadInput(f"{project.rel(path)} is larger than 1 MB: not a config file xp reads",
                       hint="restore it from git (`git checkout -- " + project.rel(path) + "`)")
    try:
        source: Any = text.splitlines() if text is not None else str(path)
        return ConfigObj(source, encoding="utf-8", write_empty_values=True, interpolation=False)
    except (ConfigObjError, UnicodeDecodeError) as exc:
        line = getattr(exc, "line_number", None)
        where = f"{project.rel(path)}:{line}" if line else project.rel(path)
        raise BadInput(f"{where}: the config does not parse ({str(exc).splitlines()[0][:120]})",
                       hint="fix that line: sections look like ['remote \"name\"'], values `url = PATH`") from None


_SECTION = re.compile(r'remote "(.*)"')


def read_remotes(project: Project) -> Remotes:
    """The remotes of the committed config, with this machine's config on top (as DVC merges them)."""
    return _merge(project, config_paths(project), {})


def _merge(project: Project, paths: tuple[Path, Path], texts: dict[Path, str]) -> Remotes:
    """The remotes of the config files `paths` (committed, then local), read from `texts` where given."""
    remotes: dict[str, dict[str, str]] = {}
    where: dict[str, Path] = {}
    default: str | None = None
    read: list[str] = []
    for path in paths:
        text = texts.get(path)
        if text is None and not path.is_file():
            continue
        read.append(project.rel(path))
        conf = _load(path, project, text)
        core = conf.get("core")
        if isinstance(core, dict) and isinstance(core.get("remote"), str):
            default = core["remote"] or None
        for section, values in conf.items():
            match = _SECTION.fullmatch(section)
            if not match or not isinstance(values, dict):
                continue
            name = match.group(1)
            merged = remotes.setdefault(name, {})
            for key, value in values.items():
                if isinstance(value, str):
                    merged[key] = value
                elif isinstance(value, list):  # configobj reads `a, b` as a list: DVC's values are one string.
                    merged[key] = ", ".join(str(v) for v in value)
            if "url" in values:
                where[name] = path
    found: dict[str, Remote] = {}
    for name, values in remotes.items():
        if not NAME.fullmatch(name) or "url" not in values:
            continue  # A teammate's odd section: not a remote xp can name; `remote list` skips it.
        url = values["url"]
        if scheme_of(url) == "local" and not url.startswith("file://"):
            # DVC keeps a relative path relative to the config file that holds it.
            url = os.path.normpath(os.path.join(where[name].parent, os.path.expanduser(url)))
        found[name] = Remote(name, url, {k: v for k, v in values.items() if k != "url"})
    return Remotes(found, default, tuple(read))


def check_name(name: str) -> str:
    """A remote name the user typed, refused unless it is a plain word."""
    if not NAME.fullmatch(name):
        raise BadInput(f"'{name[:80]}' is not a remote name xp takes",
                       hint="use letters, digits, '_', '-' and '.', starting with a letter or digit (64 at most)")
    return name


def _section(name: str) -> str:
    return f'remote "{name}"'


def _write(conf: Any, path: Path) -> None:
    """Writes the ConfigObj to `path` through a temporary file and a rename (DVC's layout: 4-space indent)."""
    from pyhelper.core.storage.atomic_write import write_atomic

    conf.indent_type = "    "
    conf.filename = None  # write() then returns the lines instead of writing the file in place.
    lines = [line.decode("utf-8") if isinstance(line, bytes) else line for line in conf.write()]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, ("\n".join(lines) + "\n") if lines else "")


def _target(project: Project, local: bool) -> tuple[Path, Any]:
    committed, mine = config_paths(project)
    path = mine if local else committed
    return path, _load(path, project)


def _relative_url(url: str, config: Path) -> str:
    """A local path as DVC stores it: absolute stays absolute, relative becomes relative to the config's folder."""
    if scheme_of(url) != "local" or url.startswith("file://") or os.path.isabs(os.path.expanduser(url)):
        return url
    absolute = os.path.abspath(url)
    return posixpath.join(*Path(os.path.relpath(absolute, config.parent)).parts)


def add(project: Project, name: str, url: str, *, default: bool = False, local: bool = False,
        force: bool = False) -> Remote:
    """`xp remote add [-d] [--local] [-f] NAME URL`."""
    check_name(name)
    if not url or "\n" in url or "\0" in url:
        raise BadInput("the remote's url is empty or has a line break", hint="pass a path, s3://… or ssh://… url")
    existing = read_remotes(project)
    if name in existing.remotes and not force:
        from pyhelper.core.credentials import redact

        raise BadInput(f"a remote named '{name}' already exists ({redact(existing.remotes[name].url)})",
                       hint=f"pass -f to replace it, or `xp remote modify {name} url NEW_URL`")
    path, conf = _target(project, local)
    conf[_section(name)] = {"url": _relative_url(url, path)}
    if default:
        conf.setdefault("core", {})["remote"] = name
        _core_first(conf)
    _write(conf, path)
    if local:
        _ignore_local(project, path)
    return read_remotes(project).remotes[name]


def _core_first(conf: Any) -> None:
    """DVC writes `[core]` before the remotes."""
    if "core" in conf.sections and conf.sections[0] != "core":  # configobj writes in `sections` order.
        conf.sections.remove("core")
        conf.sections.insert(0, "core")


def _ignore_local(project: Project, path: Path) -> None:
    """Keeps a `.xpconfig.local` out of git (`.dvc/.gitignore` does that for DVC's config.local)."""
    if path.name != ".xpconfig.local":
        return
    from pyhelper.core.storage.atomic_write import write_atomic

    ignore = path.parent / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    if f"/{path.name}" not in lines:
        write_atomic(ignore, "\n".join([*lines, f"/{path.name}"]) + "\n")


def modify(project: Project, name: str, option: str, value: str | None, *, local: bool = False) -> None:
    """`xp remote modify [--local] NAME OPTION VALUE` (`value` None: `--unset`)."""
    remotes = read_remotes(project)
    remote = remotes.get(check_name(name))
    allowed = OPTIONS["common"] | OPTIONS.get(remote.scheme, frozenset())
    if option not in allowed:
        raise BadInput(f"'{option[:80]}' is not an option of a {remote.scheme} remote",
                       hint="one of: " + ", ".join(sorted(allowed)))
    if value is not None and ("\n" in value or "\0" in value):
        raise BadInput(f"the value of {option} has a line break", hint="pass it on one line")
    path, conf = _target(project, local)
    section = conf.setdefault(_section(name), {})
    if value is None:
        section.pop(option, None)
        if not section:
            del conf[_section(name)]
    else:
        section[option] = _relative_url(value, path) if option == "url" else value
    _write(conf, path)
    if local:
        _ignore_local(project, path)


def set_default(project: Project, name: str | None, *, local: bool = False) -> None:
    """`xp remote default NAME` (None: `--unset`)."""
    if name is not None:
        read_remotes(project).get(check_name(name))
    path, conf = _target(project, local)
    if name is None:
        core = conf.get("core")
        if isinstance(core, dict):
            core.pop("remote", None)
            if not core:
                del conf["core"]
    else:
        conf.setdefault("core", {})["remote"] = name
        _core_first(conf)
    _write(conf, path)


def remove(project: Project, name: str) -> None:
    """`xp remote remove NAME`: from both config files (and as the default)."""
    check_name(name)
    found = False
    for path in config_paths(project):
        if not path.is_file():
            continue
        conf = _load(path, project)
        changed = False
        if _section(name) in conf:
            del conf[_section(name)]
            changed = found = True
        core = conf.get("core")
        if isinstance(core, dict) and core.get("remote") == name:
            del core["remote"]
            if not core:
                del conf["core"]
            changed = True
        if changed:
            _write(conf, path)
    if not found:
        raise BadInput(f"there is no remote named '{name}'", hint="see `xp remote list`")


def rename(project: Project, old: str, new: str) -> None:
    """`xp remote rename OLD NEW` in both files (and the default)."""
    check_name(new)
    remotes = read_remotes(project)
    remotes.get(check_name(old))
    if new in remotes.remotes:
        raise BadInput(f"a remote named '{new}' already exists", hint="choose another name")
    for path in config_paths(project):
        if not path.is_file():
            continue
        conf = _load(path, project)
        changed = False
        if _section(old) in conf:
            conf.rename(_section(old), _section(new))
            changed = True
        core = conf.get("core")
        if isinstance(core, dict) and core.get("remote") == old:
            core["remote"] = new
            changed = True
        if changed:
            _write(conf, path)


def remotes_of_commit(project: Project, commit: str) -> Remotes:
    """The remotes as the commit's own config files configure them (a mirror has no work tree to read), with
    this machine's config.local on top; credentials come from the environment."""
    from pyhelper.core.git.gitcore import lookup_blob, lookup_commit
    from pyhelper.core.git.gitrepo import open_repo

    repo = open_repo(project)
    tree = lookup_commit(repo, commit).tree
    texts: dict[Path, str] = {}
    for path in config_paths(project)[:1] + (project.project_root / ".dvc" / "config",
                                             project.project_root / ".xpconfig"):
        rel = project.rel(path)
        try:
            entry = tree[rel]
        except KeyError:
            continue
        if entry.type_str == "blob":
            texts[path] = lookup_blob(repo, entry.id).data.decode("utf-8", errors="replace")
    if not texts:
        return Remotes({}, None, ())
    # The commit decides which file is the committed config: `.dvc/config` when it has `.dvc/`.
    chosen = next((p for p in texts if p.name == "config"), next(iter(texts)))
    local = chosen.with_name(chosen.name + ".local")
    return _merge(project, (chosen, local), {chosen: texts[chosen]})

