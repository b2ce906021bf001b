"""pygit2's C core, loaded without pygit2's Python layer: ~10 ms instead of ~60 ms.

`import pygit2` runs the package's `__init__`, which builds ~40 enum classes, imports `ssl`,
`tarfile` and a cffi module, and costs 40-80 ms — more than half of the 0.1 s an experiment
command may take. Everything xp does with git (objects, trees, commits, refs, notes, status)
is in the C extension `pygit2._pygit2`, so this module loads that extension by itself and adds
the few conveniences of the Python layer xp uses (`references`, `branches.local`, `repo[oid]`),
with the same names, so code written against pygit2 runs unchanged.

The extension is registered under its own name (`pygit2._pygit2`), so a later `import pygit2`
(e.g. `tmp_workspace` needs `init_repository`) reuses it and the two layers share their types.
If anything about the installed pygit2 differs from what this expects, the full package is used.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

_native: types.ModuleType | None = None
_repo_class: type | None = None

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def native() -> types.ModuleType:
    """The module with pygit2's types and functions (`Commit`, `Tree`, `Oid`, `GitError`, `hashfile`…)."""
    global _native
    if _native is None:
        _native = _load()
    return _native


def open_repository(path: str) -> Any:
    """A repository object with pygit2's C methods plus `references`, `branches` and `repo[oid]`."""
    git = native()
    cls = _repository_class(git)
    if hasattr(git, "init_repository"):
        return cls(path)  # The full pygit2 package is in use: its Repository takes a path.
    return cls(git.init_file_backend(path, 0))


def lookup_blob(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Blob:
    """The blob `oid` names; another kind of object there is refused (see `_lookup`)."""
    return cast("pygit2.Blob", _lookup(repo, oid, "blob"))


def lookup_commit(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Commit:
    """The commit `oid` names; another kind of object there is refused (see `_lookup`)."""
    return cast("pygit2.Commit", _lookup(repo, oid, "commit"))


def lookup_tree(repo: pygit2.Repository, oid: pygit2.Oid | str) -> pygit2.Tree:
    """The tree `oid` names; another kind of object there is refused (see `_lookup`)."""
    return cast("pygit2.Tree", _lookup(repo, oid, "tree"))


def _lookup(repo: pygit2.Repository, oid: pygit2.Oid | str, kind: str) -> pygit2.Object:
    """`repo[oid]` when it is a `kind`. `repo[oid]` can be any kind of object: a tree entry whose mode
    says file but which names a tree is a damaged or hostile repository (a pulled experiment is anyone's
    objects), said in one line instead of failing later on a missing attribute."""
    found = repo[oid]
    if found.type_str != kind:
        raise BadInput(f"git object {str(oid)[:12]} is a {found.type_str} where a {kind} was expected",
                       hint="the repository or an experiment pulled into it is damaged: `git fsck` says more")
    return found


def _load() -> types.ModuleType:
    loaded = sys.modules.get("pygit2._pygit2")
    if loaded is not None and "pygit2" in sys.modules:
        return loaded
    try:
        return _load_extension_alone()
    except Exception:  # An unexpected pygit2 build: the full package always works, only slower.
        import pygit2

        return pygit2


def _load_extension_alone() -> types.ModuleType:
    spec = importlib.util.find_spec("pygit2")  # Finds the package folder without running __init__.
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pygit2 is not installed")
    folder = list(spec.submodule_search_locations)[0]
    extension = None
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = f"{folder}/_pygit2{suffix}"
        if os.path.exists(candidate):
            extension = candidate
            break
    if extension is None:
        raise ImportError("pygit2's extension module was not found")
    loader = importlib.machinery.ExtensionFileLoader("pygit2._pygit2", extension)
    ext_spec = importlib.util.spec_from_loader("pygit2._pygit2", loader)
    if ext_spec is None:
        raise ImportError("pygit2's extension module cannot be loaded by itself")
    module = importlib.util.module_from_spec(ext_spec)
    loader.exec_module(module)
    sys.modules["pygit2._pygit2"] = module
    # Methods such as `status()` return values through enum classes the package caches with
    # `_cache_enums()`, which imports `pygit2.enums` (25 ms of enum building). Plain ints carry
    # the same values; the stub is removed at once so a later `import pygit2` caches the real enums.
    stubs = {"pygit2": types.ModuleType("pygit2"), "pygit2.enums": _IntEnums("pygit2.enums")}
    stubs["pygit2"].__path__ = [folder]
    previous = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        module._cache_enums()
    finally:
        for name, before in previous.items():
            if before is None:
                del sys.modules[name]
            else:
                sys.modules[name] = before
    return module


class _IntEnums(types.ModuleType):
    """Stands in for `pygit2.enums` during `_cache_enums()`: every enum is plain `int`."""

    def __getattr__(self, name: str) -> type:
        if name.startswith("__"):
            raise AttributeError(name)
        return int


def _repository_class(git: types.ModuleType) -> type:
    global _repo_class
    if _repo_class is not None:
        return _repo_class
    base = git.Repository

    class Repository(base):  # type: ignore[misc, valid-type]  # A base class found at run time.
        """pygit2's repository with the Python-layer conveniences xp uses."""

        def __getitem__(self, key: Any) -> Any:
            found = self.git_object_lookup_prefix(key)
            if found is None:
                raise KeyError(key)
            return found

        def __contains__(self, key: Any) -> bool:
            return self.git_object_lookup_prefix(key) is not None

        def get(self, key: Any, default: Any = None) -> Any:
            found = self.git_object_lookup_prefix(key)
            return default if found is None else found

        @property
        def references(self) -> _References:
            return _References(self, git)

        @property
        def branches(self) -> _Branches:
            return _Branches(self, git)

    _repo_class = Repository
    return Repository


class _References:
    """`repo.references` as pygit2 has it: `in`, `[name]`, `get`, `create`, `delete`, `iterator()`."""

    def __init__(self, repo: Any, git: types.ModuleType) -> None:
        self._repo = repo
        self._git = git

    def get(self, name: str) -> Any:
        try:
            return self._repo.lookup_reference(name)
        except (KeyError, self._git.InvalidSpecError):
            return None

    def __getitem__(self, name: str) -> Any:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def create(self, name: str, target: Any, force: bool = False) -> Any:
        return self._repo.create_reference_direct(name, target, force)

    def delete(self, name: str) -> None:
        self[name].delete()

    def iterator(self) -> Iterator[Any]:
        iterator = self._repo.references_iterator_init()
        while True:
            reference = self._repo.references_iterator_next(iterator, 0)
            if reference is None:
                return
            yield reference


class _Branches:
    """`repo.branches` reduced to what xp uses: `branches.local` (`in`, `[name]`, iteration, `create`)."""

    def __init__(self, repo: Any, git: types.ModuleType) -> None:
        self.local = _LocalBranches(repo, git)


class _LocalBranches:
    def __init__(self, repo: Any, git: types.ModuleType) -> None:
        self._repo = repo
        self._git = git

    def __iter__(self) -> Iterator[str]:
        return iter(self._repo.listall_branches(self._git.GIT_BRANCH_LOCAL))

    def _get(self, name: str) -> Any:
        try:
            return self._repo.lookup_branch(name, self._git.GIT_BRANCH_LOCAL)
        except (KeyError, self._git.InvalidSpecError):  # An invalid name cannot name a branch.
            return None

    def __contains__(self, name: str) -> bool:
        return self._get(name) is not None

    def __getitem__(self, name: str) -> Any:
        found = self._get(name)
        if found is None:
            raise KeyError(name)
        return found

    def create(self, name: str, commit: Any, force: bool = False) -> Any:
        return self._repo.create_branch(name, commit, force)
