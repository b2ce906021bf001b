"""`xp exp tag`, `xp exp note` and `xp exp star`: edit an experiment's tags, note and star after the fact."""

from __future__ import annotations

from pyhelper.core.experiments import notes
from pyhelper.core.experiments.resolve import find
from pyhelper.core.gitrepo import open_repo
from pyhelper.core.project import Project
from pyhelper.errors import BadInput


def tag(project: Project, spec: str, tags: list[str], *, remove: bool = False) -> notes.Annotations:
    """Adds (or removes) tags; returns the experiment's annotations after the change."""
    for name in tags:
        if not name or any(c.isspace() for c in name) or "," in name:
            raise BadInput(f"'{name}' is not a valid tag", hint="use one word per tag (no spaces or commas)")
    repo = open_repo(project)
    experiment = find(repo, spec)
    current = notes.read(repo, experiment.rev)
    if remove:
        updated = tuple(t for t in current.tags if t not in tags)
    else:
        updated = tuple(dict.fromkeys([*current.tags, *tags]))
    result = notes.Annotations(tags=updated, note=current.note, starred=current.starred)
    notes.write(repo, experiment.rev, result)
    return result


def set_note(project: Project, spec: str, text: str) -> notes.Annotations:
    """Replaces the experiment's note (an empty text removes it)."""
    repo = open_repo(project)
    experiment = find(repo, spec)
    current = notes.read(repo, experiment.rev)
    result = notes.Annotations(tags=current.tags, note=text.strip(), starred=current.starred)
    notes.write(repo, experiment.rev, result)
    return result


def star(project: Project, spec: str, *, starred: bool = True) -> notes.Annotations:
    """Stars (or unstars) the experiment; returns its annotations after the change."""
    repo = open_repo(project)
    experiment = find(repo, spec)
    current = notes.read(repo, experiment.rev)
    result = notes.Annotations(tags=current.tags, note=current.note, starred=starred)
    notes.write(repo, experiment.rev, result)
    return result
