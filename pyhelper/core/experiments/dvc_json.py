"""`exp show --json` in DVC 3.67.1's shape, for scripts written against DVC.

One record per baseline (the workspace first): its `data` (params and metrics nested as in their
files, the deps and outputs its dvc.lock records, .dvc-tracked data among the outputs) and its
`experiments`, newest first, each the chain of its commits down to the baseline (a checkpointed
run has one commit per checkpoint). Blobs are read and parsed once, through the table's RowReader.
xp's own richer rows (queue entries, checkpoint steps, tags, stars) stay in `--xp-json`.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyhelper.core.experiments.show import RowReader, _baselines, missing_object_errors, missing_objects
from pyhelper.core.git.gitcore import lookup_commit
from pyhelper.core.git.gitrepo import exp_refs, open_repo
from pyhelper.core.project import Project
from pyhelper.errors import XpError

if TYPE_CHECKING:
    import pygit2

MAX_CHAIN = 10_000
"""Commits followed down an experiment's chain at most (a teammate's ref could point anywhere)."""


def dvc_show(project: Project, *, all_branches: bool = False, all_commits: bool = False, num: int = 1,
             revs: list[str] | None = None, hide_workspace: bool = False, param_deps: bool = False,
             all_tags: bool = False) -> list[dict[str, Any]]:
    """The records `dvc exp show --json` prints for the same baselines."""
    repo = open_repo(project)
    reader = RowReader(project, repo, param_deps=param_deps)
    baselines = _baselines(repo, project, all_branches=all_branches, all_commits=all_commits, num=num,
                           revs=revs or [], all_tags=all_tags)
    by_baseline: dict[str, list[tuple[str, str]]] = {}
    for ref, rev in exp_refs(repo):
        by_baseline.setdefault(ref.baseline, []).append((ref.name, rev))
    out: list[dict[str, Any]] = []
    if not hide_workspace:
        out.append({"rev": "workspace", "name": None, "data": _data(reader, None, "workspace", None),
                    "error": None, "experiments": None})
    branches = _branch_names(repo)
    for label, commit in baselines:
        baseline = str(commit.id)
        experiments = []
        for name, rev in by_baseline.get(baseline, []):
            try:
                chain = _chain(repo, rev, baseline)
                records = [{"rev": str(c.id), "name": name if i == 0 else None,
                            "data": _data(reader, c.tree, str(c.id), c), "error": None, "experiments": None}
                           for i, c in enumerate(chain)]
            except missing_object_errors():
                # Objects deleted or pruned by `git gc`: this experiment carries the error (DVC's `error`
                # record), the others are read as usual.
                chain = []
                error = missing_objects(name, rev)
                records = [{"rev": rev, "name": name, "data": {}, "error": {
                    "type": "MissingObjects", "msg": error.one_line()}, "experiments": None}]
            experiments.append((chain[0].commit_time if chain else 0, name,
                                {"revs": records, "executor": None, "name": name}))
        experiments.sort(key=lambda item: (-item[0], item[1]))
        out.append({"rev": baseline, "name": branches.get(baseline, label if label != baseline[:7] else None),
                    "data": _data(reader, commit.tree, baseline, commit), "error": None,
                    "experiments": [e for _, _, e in experiments] or None})
    return out


def _branch_names(repo: pygit2.Repository) -> dict[str, str]:
    from pyhelper.core.git.gitcore import native

    names: dict[str, str] = {}
    for branch in repo.branches.local:
        names.setdefault(str(repo.branches.local[branch].peel(native().Commit).id), branch)
    for tag in sorted(r.name for r in repo.references.iterator() if r.name.startswith("refs/tags/")):
        try:
            names.setdefault(str(repo.revparse_single(tag).peel(native().Commit).id), tag[len("refs/tags/"):])
        except (KeyError, ValueError, native().GitError):
            continue
    if not repo.head_is_detached and not repo.head_is_unborn:
        names[str(repo.head.target)] = repo.head.shorthand
    return names


def _chain(repo: pygit2.Repository, tip: str, baseline: str) -> list[pygit2.Commit]:
    """The experiment's commits, newest first, down to (not including) its baseline."""
    chain: list[pygit2.Commit] = []
    commit = lookup_commit(repo, tip)
    while str(commit.id) != baseline and len(chain) < MAX_CHAIN:
        chain.append(commit)
        if not commit.parents:
            break
        commit = commit.parents[0]
    return chain


def _data(reader: RowReader, tree: pygit2.Tree | None, rev: str, commit: pygit2.Commit | None) -> dict[str, Any]:
    """One revision's `data`: params, metrics, deps and outputs as DVC shows them."""
    from pyhelper.core.values.metrics import dvc_values

    layout = reader.layout(tree)
    params: dict[str, Any] = {}
    for path, keys in layout.params.items():
        blob = reader._blob(tree, path)
        if blob is None:
            continue
        try:
            parsed = _parse_params(reader, blob, path)
        except XpError as exc:
            params[_rel(reader, path)] = {"error": {"type": "ParseError", "msg": str(exc)}}
            continue
        params[_rel(reader, path)] = {"data": _select(parsed, keys)}
    metrics: dict[str, Any] = {}
    errors: dict[str, str] = {}
    flat = reader.metrics(tree, layout, lambda: reader.lock(tree, layout.locks), errors)
    for path in layout.metrics:
        blob = reader._blob(tree, path)
        if blob is not None:
            try:
                metrics[_rel(reader, path)] = {"data": dvc_values(_parse_params(reader, blob, path, metrics=True))}
            except XpError as exc:
                metrics[_rel(reader, path)] = {"error": {"type": "ParseError", "msg": str(exc)}}
        elif path in flat:
            metrics[_rel(reader, path)] = {"data": _nest(flat[path])}
        else:
            metrics[_rel(reader, path)] = {"error": {
                "type": "FileNotFoundError", "msg": f"[Errno 2] No such file or directory: '{_rel(reader, path)}'"}}
    deps, outs = _deps_and_outs(reader, tree)
    timestamp = datetime.fromtimestamp(commit.commit_time).isoformat() if commit is not None else None
    return {"rev": rev, "timestamp": timestamp, "params": params, "metrics": metrics, "deps": deps,
            "outs": outs, "meta": {}}


def _parse_params(reader: RowReader, blob: tuple[str, bytes], path: str, *, metrics: bool = False) -> Any:
    from pyhelper.core.values.params import parse_params

    suffix = posixpath.splitext(path)[1].lower()
    if metrics and suffix not in (".json", ".yaml", ".yml", ".toml"):
        suffix = ".yaml"
    return reader._parse("nested", blob, path, lambda raw, p: parse_params(
        raw.decode("utf-8", errors="replace"), suffix=suffix, display=p))


def _select(data: Any, keys: tuple[str, ...]) -> Any:
    """A params file's data, or only the keys a stage reads (nested, as DVC shows them)."""
    if not keys or not isinstance(data, dict):
        return data
    from pyhelper.core.values.params import get_value, put_dotted

    picked: dict[str, Any] = {}
    for key in keys:
        try:
            put_dotted(picked, key, get_value(data, key))
        except KeyError:
            continue
    return picked


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    from pyhelper.core.values.params import put_dotted

    nested: dict[str, Any] = {}
    for key, value in flat.items():
        put_dotted(nested, key, value)
    return nested


def _rel(reader: RowReader, path: str) -> str:
    sub = reader.project.sub
    return posixpath.relpath(path, sub) if sub else path


def _deps_and_outs(reader: RowReader, tree: pygit2.Tree | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deps and (not metrics, not plots) outputs the revision's locks record, and its .dvc data."""
    from pyhelper.core.pipeline.dvcdata import parse_data_file
    from pyhelper.core.pipeline.dvcfile import parse_pipeline

    files = reader.pipeline_files(tree)

    def read(rel: str) -> str | None:
        found = reader._blob(tree, rel)
        return found[1].decode("utf-8", errors="replace") if found else None

    deps: dict[str, Any] = {}
    outs: dict[str, Any] = {}
    pipeline = reader.layout(tree).pipeline  # Parsed once per distinct set of pipeline files.
    if pipeline is None:
        try:
            pipeline = parse_pipeline(read, files=list(files), sub=reader.project.sub)
        except XpError:
            return deps, outs
    locks = {}
    for dvcfile, lock in zip(pipeline.files, pipeline.lock_files(), strict=True):
        entries = reader.lock(tree, (lock,))
        locks.update({pipeline.address(dvcfile, name): entry for name, entry in entries.items()})
    for name, stage in pipeline.stages.items():
        # As DVC: every dep and (plain) output the stage declares, in its order; hashes from the lock, or null.
        entry = locks.get(name)
        for dep in stage.deps:
            info = entry.deps.get(dep) if entry is not None else None
            path = dep if "://" in dep else _rel(reader, stage.repo_path(dep))
            deps.setdefault(path, {"hash": (info.checksum or info.md5) if info else None,
                                   "size": info.size if info else None, "nfiles": info.nfiles if info else None})
        for out in stage.outs:
            if out.kind != "outs":
                continue
            info = entry.outs.get(out.path) if entry is not None else None
            outs.setdefault(_rel(reader, stage.repo_path(out.path)), {
                "hash": info.md5 if info else None, "size": info.size if info else None,
                "nfiles": info.nfiles if info else None, "use_cache": out.cache, "is_data_source": False})
    data_files = _data_files(reader, tree)
    for path in data_files:
        blob = reader._blob(tree, path)
        if blob is None:
            continue
        try:  # Parsed once per distinct blob.
            data = reader._parse("data", blob, path, lambda raw, p: parse_data_file(raw.decode("utf-8", "replace"), p))
        except XpError:
            continue
        for out in data.outs:
            if out.hash is not None:
                outs.setdefault(_rel(reader, out.path), {"hash": out.hash.md5, "size": out.hash.size,
                                                         "nfiles": out.hash.nfiles, "use_cache": out.cache,
                                                         "is_data_source": True})
    return deps, outs


def _data_files(reader: RowReader, tree: pygit2.Tree | None) -> tuple[str, ...]:
    if tree is None:
        return reader.workspace_files().data
    from pyhelper.core.pipeline.collect import TreeFiles

    if reader._tree_files is None:
        reader._tree_files = TreeFiles(reader.repo, reader.project.sub)
    return reader._tree_files.data(tree)
