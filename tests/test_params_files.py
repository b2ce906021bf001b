"""Params files: `-S` edits that keep a file as its author wrote it, typed values, dotted keys.

An edit changes the text of the values it sets and nothing else: comments, key order, quoting,
blank lines and indentation stay (ruamel.yaml round-trip for YAML, tomlkit for TOML, the file's
own indentation for JSON).
"""

from __future__ import annotations

import json

import pytest

from pyhelper.core.values.params import flatten, get_value, load_params
from pyhelper.core.values.params_edit import Override, apply_overrides, parse_override, set_params
from pyhelper.errors import ParamsError

COMMENTED = """\
# Parameters of the demo pipeline.
---
prepare:
  split: 0.2        # share of rows held out
  seed: 20170428

train:
  # Learning rate: try 0.01 to 0.5.
  lr: 0.1           # learning rate
  epochs: 10
  optimizer: "adam"  # quoted on purpose
  schedule: 'cosine'
  layers:
    - 64
    - 32
  dropout: [0.1, 0.2]
  note: >-
    folded text
    on two lines

evaluate:
  metrics: [accuracy, f1]   # flow style stays
"""

PIPELINE = """\
stages:
  train:
    cmd: python -c "open('model.txt', 'w').write('trained')"
    params:
      - train.lr
      - train.layers
    outs:
      - model.txt
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old, new) for every line that differs; the files must keep their number of lines."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), f"lines were added or removed:\n{after}"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# -- round trips ----------------------------------------------------------------------------


def test_repro_set_param_changes_only_that_value(gen, xp) -> None:
    repo = gen({"params.yaml": COMMENTED, "dvc.yaml": PIPELINE})

    result = xp("repro", "-S", "train.lr=0.05", cwd=repo)

    assert "Running stage 'train'" in result.stdout
    assert changed_lines(COMMENTED, (repo / "params.yaml").read_text()) == [
        ("  lr: 0.1           # learning rate", "  lr: 0.05          # learning rate"),
    ]
    diff = xp("params", "diff", "--json", cwd=repo)
    assert json.loads(diff.stdout) == {
        "params.yaml": {"train.lr": {"old": 0.1, "new": 0.05, "diff": pytest.approx(-0.05)}}}


def test_several_values_quotes_and_list_items_in_one_edit(gen) -> None:
    repo = gen({"params.yaml": COMMENTED}, commit=False)

    set_params(repo, ["train.optimizer=sgd", "train.schedule=step", "train.layers.1=128",
                      "train.dropout.0=0.3", "evaluate.metrics.1=auc", "prepare.seed=7"])

    assert changed_lines(COMMENTED, (repo / "params.yaml").read_text()) == [
        ("  seed: 20170428", "  seed: 7"),
        # A shorter value: its comment keeps its column.
        ('  optimizer: "adam"  # quoted on purpose', '  optimizer: "sgd"   # quoted on purpose'),
        ("  schedule: 'cosine'", "  schedule: 'step'"),
        ("    - 32", "    - 128"),
        ("  dropout: [0.1, 0.2]", "  dropout: [0.3, 0.2]"),
        ("  metrics: [accuracy, f1]   # flow style stays", "  metrics: [accuracy, auc]  # flow style stays"),
    ]


@pytest.mark.parametrize("text", [
    "train:\n  layers:\n  - 64\n  - 32\n  lr: 0.1\n",  # '-' level with its key (DVC's own style)
    "train:\n  layers:\n    - 64\n    - 32\n  lr: 0.1\n",  # '-' indented
    "train:\n    layers:\n        - 64\n        - 32\n    lr: 0.1\n",  # four spaces
    "train:\n    layers:\n    - 64\n    - 32\n    lr: 0.1\n",
])
def test_the_files_indentation_is_kept(gen, text: str) -> None:
    repo = gen({"params.yaml": text}, commit=False)

    set_params(repo, ["train.lr=0.2"])

    after = (repo / "params.yaml").read_text()
    assert changed_lines(text, after) == [(line, line.replace("0.1", "0.2")) for line in text.splitlines()
                                          if "lr:" in line]


def test_adding_a_key_with_plus_appends_it_and_keeps_the_rest(gen) -> None:
    repo = gen({"params.yaml": COMMENTED}, commit=False)

    set_params(repo, ["+train.augment.flip=true", "+evaluate.top_k=5", "+seed=3"])

    # New keys go at the end of their mapping, above the blank line that closes it.
    assert (repo / "params.yaml").read_text() == COMMENTED.replace(
        "    on two lines\n", "    on two lines\n  augment:\n    flip: true\n"
    ).replace("# flow style stays\n", "# flow style stays\n  top_k: 5\nseed: 3\n")


def test_plus_on_an_existing_key_sets_it(gen) -> None:
    """`xp runs restore` writes params back with '+', whether or not the key is still there."""
    repo = gen({"params.yaml": "lr: 0.1  # lr\n"}, commit=False)

    apply_overrides(repo / "params.yaml", [Override("params.yaml", "+lr", 0.3)], display="params.yaml")

    assert (repo / "params.yaml").read_text() == "lr: 0.3  # lr\n"


def test_other_params_files_json_toml_yaml(gen, xp) -> None:
    json_text = json.dumps({"train": {"lr": 0.1, "name": "réseau", "sizes": [1, 2]}, "z": 1},
                           indent=4, ensure_ascii=False) + "\n"
    toml_text = "# Model options.\n[model]\nlayers = 3  # depth\nname = \"cnn\"\n\n[data]\nsplit = 0.2\n"
    yaml_text = "# extra\nbatch: 32  # per device\n"
    repo = gen({
        "conf/train.json": json_text,
        "conf/model.toml": toml_text,
        "conf/extra.yml": yaml_text,
        "dvc.yaml": "stages:\n  train:\n    cmd: echo trained > model.txt\n    params:\n"
                    "      - conf/train.json:\n      - conf/model.toml: [model.layers]\n"
                    "      - conf/extra.yml: [batch]\n    outs: [model.txt]\n",
    })
    xp("repro", cwd=repo)

    result = xp("repro", "-S", "conf/train.json:train.lr=0.2", "-S", "conf/train.json:train.sizes.1=5",
                "-S", "conf/model.toml:model.layers=4", "-S", "conf/extra.yml:batch=64", cwd=repo)

    assert "Running stage 'train'" in result.stdout
    # JSON keeps its indentation, key order and non-ASCII text.
    assert changed_lines(json_text, (repo / "conf/train.json").read_text()) == [
        ('        "lr": 0.1,', '        "lr": 0.2,'), ("            2", "            5"),
    ]
    # TOML keeps its comments and layout.
    assert (repo / "conf/model.toml").read_text() == toml_text.replace("layers = 3", "layers = 4")
    assert (repo / "conf/extra.yml").read_text() == "# extra\nbatch: 64  # per device\n"
    lock = (repo / "dvc.lock").read_text()
    assert "layers: 4" in lock and "batch: 64" in lock and "lr: 0.2" in lock


def test_a_one_line_json_file_stays_on_one_line(gen) -> None:
    repo = gen({"conf.json": '{"lr": 0.1, "layers": [1, 2]}'}, commit=False)

    set_params(repo, ["conf.json:lr=0.3", "conf.json:+seed=1"])

    assert (repo / "conf.json").read_text() == '{"lr": 0.3, "layers": [1, 2], "seed": 1}'


def test_a_new_json_file_is_created_only_with_plus(gen) -> None:
    repo = gen({"params.yaml": "a: 1\n"}, commit=False)

    with pytest.raises(ParamsError, match="does not exist"):
        set_params(repo, ["conf.json:lr=0.1"])
    assert not (repo / "conf.json").exists()

    set_params(repo, ["conf.json:+lr=0.1"])

    assert json.loads((repo / "conf.json").read_text()) == {"lr": 0.1}


# -- typing of override values --------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("train.lr=0.1", 0.1),
    ("train.lr=1e-3", 0.001),
    ("train.epochs=10", 10),
    ("flag=true", True),
    ("flag=false", False),
    ("layers=[1,2]", [1, 2]),
    ("opt={name: adam}", {"name": "adam"}),
    ("name='abc'", "abc"),
    ("name=abc", "abc"),
    ("version='0.1'", "0.1"),
    ("nothing=null", None),
    ("empty=", ""),
    ("msg=a=b", "a=b"),
])
def test_override_values_are_typed_as_yaml(text: str, value: object) -> None:
    override = parse_override(text)

    assert override.value == value and type(override.value) is type(value)
    assert override.file == "params.yaml"


def test_override_file_and_key() -> None:
    assert parse_override("conf/a.json:train.lr=2") == Override("conf/a.json", "train.lr", 2)
    assert parse_override("+new.key=1") == Override("params.yaml", "+new.key", 1)


def test_typed_values_land_in_the_file_with_their_type(gen) -> None:
    repo = gen({"params.yaml": "lr: 0.5\nflag: false\nlayers: [3]\nname: x\nversion: 1\n"}, commit=False)

    set_params(repo, ["lr=0.1", "flag=true", "layers=[1, 2]", "name='abc'", "version='0.1'"])

    assert load_params(repo / "params.yaml", display="params.yaml") == {
        "lr": 0.1, "flag": True, "layers": [1, 2], "name": "abc", "version": "0.1",
    }


# -- all or nothing -------------------------------------------------------------------------


def test_a_wrong_assignment_writes_no_file(gen) -> None:
    repo = gen({"params.yaml": COMMENTED, "conf.yaml": "seed: 1\n"}, commit=False)

    with pytest.raises(ParamsError) as caught:
        set_params(repo, ["train.lr=0.5", "conf.yaml:sed=2"])

    assert caught.value.path == "conf.yaml" and "did you mean 'seed'?" in caught.value.hint
    assert (repo / "params.yaml").read_text() == COMMENTED
    assert (repo / "conf.yaml").read_text() == "seed: 1\n"


def test_an_edit_can_be_undone(gen) -> None:
    repo = gen({"params.yaml": COMMENTED}, commit=False)

    edit = set_params(repo, ["train.lr=0.5", "new.yaml:+a=1"])
    assert edit.files == ["params.yaml", "new.yaml"]
    edit.undo()

    assert (repo / "params.yaml").read_text() == COMMENTED
    assert not (repo / "new.yaml").exists()


# -- dotted keys ----------------------------------------------------------------------------


def test_get_value_and_flatten_with_dotted_keys() -> None:
    data = {
        "train": {"lr": 0.1, "layers": [{"units": 64}, {"units": 32}], "opt": {}},
        "a.b": 1,  # A key that holds a dot, as some params files have.
        "a": {"c": 2},
    }

    assert get_value(data, "train.lr") == 0.1
    assert get_value(data, "train.layers.1.units") == 32
    assert get_value(data, "train.layers") == [{"units": 64}, {"units": 32}]
    assert get_value(data, "a.b") == 1 and get_value(data, "a.c") == 2
    for missing in ("train.momentum", "train.layers.2", "train.lr.x", "b"):
        with pytest.raises(KeyError):
            get_value(data, missing)
    assert flatten(data) == {
        "train.lr": 0.1,
        "train.layers": [{"units": 64}, {"units": 32}],  # Lists are leaves, as DVC shows them.
        "train.opt": {},
        "a.b": 1,
        "a.c": 2,
    }


def test_a_literal_dotted_key_can_be_set(gen) -> None:
    repo = gen({"params.yaml": "model.name: cnn  # dotted\nother: 1\n"}, commit=False)

    set_params(repo, ["model.name=rnn"])

    assert (repo / "params.yaml").read_text() == "model.name: rnn  # dotted\nother: 1\n"
