"""The fast dvc.lock emitter writes exactly what ruamel.yaml's safe dumper writes, or declines."""

from __future__ import annotations

import io
import random

import pytest
from ruamel.yaml import YAML

from pyhelper.core.yamlio import yamlemit
from pyhelper.core.yamlio.yamlfile import dump_plain


def _ruamel(data) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


TRICKY = [
    "2.0", "true", "True", "yes", "no", "on", "null", "Null", "~", "", "1e5", "1e+17", "2026-11-26",
    "2026-11-26 10:00:00", "0x1F", "0o17", "1_000", "+1", "-1", ".5", ".inf", "-.inf", ".nan", "=", "<<",
    "abc", "a b", "a  b", " lead", "trail ", "a: b", "a #b", "#x", "-x", "- x", "?x", "x:", "[x]", "{x}",
    "it's", 'say "hi"', "multi\nline", "tab\there", "ünïcödé", "python src/train.py --lr 0.1",
    "b614dc1759c295b04c8bc74a6d3078de.dir", "60bbf409f1692e4f1d47f2970c0a0a0f", "12345678", "1e10x",
    "data/prepared", "../outside", "./here", ".hidden", "x" * 1200, "a,b", "a=b", "(x)", "~home", "%x", "@x",
    "!x", "&x", "*x", "|x", ">x", "`x`", "x\\y", "---", "...", "a...b",
]
FLOATS = [0.0, -0.0, 0.1, 0.2, 1.5, 3.0, 1e-05, 1e17, 1.5e300, -2.5, 123456789.125, float("inf"), float("nan")]


@pytest.mark.parametrize("value", TRICKY + FLOATS + [0, -7, 10**20, True, False, None, {}, []])
def test_each_scalar_as_a_value_a_key_and_a_list_item(value):
    shapes = [{"k": value}, {"k": [value, "x"]}, {"k": [{"a": value, "b": 1}]}]
    if isinstance(value, str):
        shapes.append({value: 1})
    for data in shapes:
        expected = _ruamel(data)
        fast = yamlemit.dump(data)
        assert fast is None or fast == expected, (data, fast, expected)
        assert dump_plain(data) == expected


def test_random_lock_like_documents_are_identical_or_declined():
    rng = random.Random(7)
    atoms = TRICKY + FLOATS + [0, 1, 42, -3, True, False, None]
    declined = 0
    for _ in range(300):
        stages = {}
        for s in range(rng.randint(1, 4)):
            stages[f"stage{s}"] = {
                "cmd": rng.choice(["python train.py", "python src/prepare.py --seed 1", "echo hi"]),
                "deps": [{"path": f"src/f{i}.py", "hash": "md5", "md5": f"{rng.getrandbits(128):032x}",
                          "size": rng.randint(0, 10**6)} for i in range(rng.randint(0, 3))],
                "params": {"params.yaml": {f"train.k{i}": rng.choice(atoms) for i in range(rng.randint(0, 4))}},
                "outs": [{"path": "model.pkl", "hash": "md5", "md5": f"{rng.getrandbits(128):032x}.dir",
                          "size": 5, "nfiles": 2}],
            }
        data = {"schema": "2.0", "stages": stages}
        expected = _ruamel(data)
        fast = yamlemit.dump(data)
        if fast is None:
            declined += 1
        else:
            assert fast == expected, data
    assert declined < 300  # The usual documents take the fast path.


def test_a_real_lock_takes_the_fast_path():
    data = {"schema": "2.0", "stages": {"train": {
        "cmd": "python src/train.py", "deps": [{"path": "src/train.py", "hash": "md5",
                                               "md5": "d2b0df126a6771bd4beaf962e524616c", "size": 4096}],
        "params": {"params.yaml": {"train.lr": 0.05, "train.epochs": 10, "train.seed": 7}},
        "outs": [{"path": "model", "hash": "md5", "md5": "0123456789abcdef0123456789abcdef.dir", "size": 1,
                  "nfiles": 1}]}}}
    assert yamlemit.dump(data) == _ruamel(data)
