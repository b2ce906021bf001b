"""`xp exp tag`, `xp exp note` and `xp exp star`: edit an experiment's tags, note and star after the fact."""

from __future__ import annotations

from pyhelper.core.experiments import notes
from pyhelper.core.experiments.resolve import find
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.project import Project
from pyhelper.errors import BadInput


def tag(project: Project, spec: str, tags: list[str], *, remove: bool = False) -> notes.Annotations:
    """Adds (or removes) tags; returns the experiment's annotations after the change.

    Tags to add are checked (`notes.check_tag`); any tag can be removed, one stored by someone
    else included (as it is shown, control characters escaped).
    """
    if not remove:
        for name in tags:
            notes.check_tag(name)
    repo = open_repo(project)
    experiment = find(repo, spec)
    current = notes.read(repo, experiment.rev)
    if remove:
        updated = tuple(t for t in current.tags if t not in tags)
    else:
        updated = tuple(dict.fromkeys([*current.tags, *tags]))
        if len(updated) > notes.MAX_TAGS:
            raise BadInput(f"'{experiment.name}' would have {len(updated)} tags; an experiment has at most "
                           f"{notes.MAX_TAGS}", hint="remove some with `xp exp tag --remove`")
    result = notes.Annotations(tags=updated, note=current.note, starred=current.starred)
    notes.write(repo, experiment.rev, result)
    return result


def set_note(project: Project, spec: str, text: str) -> notes.Annotations:
    """Replaces the experiment's note (an empty text removes it); `notes.check_note` says what a note may hold."""
    text = notes.check_note(text)
    repo = open_repo(project)
    experiment = find(repo, spec)
    current = notes.read(repo, experiment.rev)
    result = notes.Annotations(tags=current.tags, note=text, starred=current.starred)
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
