"""The fast YAML reader gives exactly what ruamel.yaml's safe loader gives, or defers to it."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from pyhelper.core.yamlio import yamlfast
from pyhelper.core.yamlio.yamlfile import parse_yaml
from pyhelper.errors import BadInput

SCALARS = [
    "0", "1", "-1", "+1", "012", "0o12", "0x1F", "1_000", "1.5", "1.", "-.5", ".5", "1e5", "1E-3", "1.0e+3",
    ".inf", "-.inf", ".nan", "NaN", "inf", "true", "True", "TRUE", "false", "yes", "no", "on", "off", "y", "n",
    "null", "~", "Null", "", "2024-01-01", "2024-01-01 10:00:00", "12:30", "1:20", "0.1.2", "abc", "-abc",
    "+x", "..", "1a", "0b101", "3.14abc", "'q'", '"dq"', "[1, 2]", "{a: 1}", "!!str 1", "!!int '3'", "&a 1",
    "1e", "e1", "-", "+", "0.", "00", "-0", "+0.5", "1_2.5", "TRUE1", "Yes", "OFF", "=", "<<", "'${x}'",
]
DOCUMENTS = [
    "a: &x {b: 1}\nc: *x\n", "? [a]\n: 1\n", "%YAML 1.1\n---\na: yes\n", "a: 1\n---\nb: 2\n",
    "<<: {a: 1}\nb: 2\n", "a:\n  - b: 1\n    c: [1, {d: e}]\n", "a: !!str 1\n", "- - 1\n  - 2\n- 3\n",
    "# only a comment\n", "", "a: |\n  text\n  more\nb: >\n  folded\n", "1: one\n2.5: two\n",
    "stages:\n  train:\n    cmd: python train.py ${lr}\n    outs: [model.pkl]\n",
]


def reference(text: str):
    try:
        return YAML(typ="safe").load(text)
    except Exception as exc:  # The full loader's verdict, error included.
        return ("error", type(exc).__name__)


def fast(text: str):
    try:
        value = yamlfast.load(text)
    except Exception as exc:
        return ("error", type(exc).__name__)
    return reference(text) if value is yamlfast.FALLBACK else value


@pytest.mark.parametrize("scalar", SCALARS)
@pytest.mark.parametrize("shape", ["k: {}\n", "- {}\n", "{{k: {}}}\n"])
def test_scalars_resolve_as_ruamel_resolves_them(scalar: str, shape: str) -> None:
    text = shape.format(scalar)
    expected, got = reference(text), fast(text)
    assert repr(got) == repr(expected) and type(got) is type(expected)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_documents_load_as_ruamel_loads_them(text: str) -> None:
    assert repr(fast(text)) == repr(reference(text))


def test_duplicate_keys_and_syntax_errors_still_get_the_full_loaders_message() -> None:
    with pytest.raises(BadInput) as duplicate:
        parse_yaml("a: 1\na: 2\n", path="params.yaml")
    assert "appears twice" in duplicate.value.message and duplicate.value.line == 2
    with pytest.raises(BadInput) as broken:
        parse_yaml("a: [1, 2\nb: 3\n", path="params.yaml")
    assert broken.value.path == "params.yaml" and broken.value.line is not None
