"""Parameter sweeps: `-S 'train.lr=0.1,0.01'` (choices), `-S 'epochs=range(1,10,2)'`, grids, samples.

Several `-S` make the Cartesian product; `sample` draws that many distinct points at random
(seeded) instead of the whole grid. A grid of more than `LIMIT` points needs `confirm`.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass

from pyhelper.errors import BadInput

LIMIT = 1000
AXIS_LIMIT = 100_000
"""Values one `range(…)` may make."""
_RANGE = re.compile(r"range\(\s*([^)]*)\)")


@dataclass(frozen=True)
class Axis:
    """One swept params key and the value texts it takes."""

    target: str
    """`[file:]key` as the user wrote it."""
    values: tuple[str, ...]


def parse_axis(text: str) -> Axis:
    """Parses one `-S`: `key=v`, `key=v1,v2,…`, or `key=range(start, stop[, step])`."""
    if "=" not in text:
        raise BadInput(f"override '{text}' has no '='", hint="write it as key=value, e.g. -S train.lr=0.01,0.1")
    target, _, raw = text.partition("=")
    raw = raw.strip()
    match = _RANGE.fullmatch(raw)
    if match:
        return Axis(target, tuple(str(v) for v in _range(match.group(1), text)))
    if "range(" in raw and not raw.startswith(("'", '"')):
        raise BadInput(f"'{text}' mixes range(…) with other values",
                       hint="write either key=range(start, stop, step) or key=v1,v2,… (several -S make a grid)")
    if raw.startswith(("[", "{", "'", '"')) or "," not in raw:
        return Axis(target, (raw,))  # A list, a mapping or a quoted string is one value.
    values = tuple(v.strip() for v in raw.split(","))
    if any(not v for v in values):
        raise BadInput(f"the sweep '{text}' has an empty choice",
                       hint="separate values with single commas, e.g. -S train.lr=0.1,0.01")
    return Axis(target, values)


def _range(args: str, text: str) -> list[float | int]:
    """The values of `range(start, stop[, step])`, with floats allowed (stop excluded, as Python)."""
    try:
        parts = [float(p) if "." in p or "e" in p.lower() else int(p) for p in (a.strip() for a in args.split(","))]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] == 0):
        raise BadInput(f"'{text}' is not a valid range",
                       hint="write range(start, stop) or range(start, stop, step) with a non-zero step")
    start, stop = parts[0], parts[1]
    step = parts[2] if len(parts) == 3 else 1
    integers = all(isinstance(p, int) for p in parts)
    # As Python's range: start, start+step, … while short of stop (either direction), floats
    # rounded so that 0.1 + 2 * 0.1 is 0.3; the tolerance keeps stop itself out.
    if integers:
        count = max(-((start - stop) // step), 0)  # len(range(…)), which cannot take numbers past 2**63.
    else:
        span = (stop - start) / step
        if not math.isfinite(span):
            raise BadInput(f"'{text}' is not a valid range", hint="write range(start, stop, step) with finite numbers")
        count = max(math.ceil(span - 1e-9), 0)
    if count > AXIS_LIMIT:  # Counted before any value is made: range(0, 10**9) would fill the memory.
        raise BadInput(f"'{text}' has {count:,} values (more than {AXIS_LIMIT:,})",
                       hint="use a larger step, or fewer values")
    if integers:
        values: list[float | int] = list(range(int(start), int(stop), int(step)))
    else:
        values = [round(float(start) + i * step, 12) for i in range(int(count))]
    if not values:
        raise BadInput(f"'{text}' is empty", hint="check start, stop and step")
    return values


def expand(assignments: list[str], *, sample: int | None = None, seed: int | None = None,
           confirm: bool = False) -> list[list[str]]:
    """The `-S` lists of every point of the sweep (one point, `[]`, when nothing is swept)."""
    axes = [parse_axis(a) for a in assignments]
    size = 1
    for axis in axes:
        size *= len(axis.values)
    if sample is not None:
        if sample < 1:
            raise BadInput("--sample must be at least 1", hint="pass --sample N with N ≥ 1")
        rng = random.Random(seed)
        indexes = list(range(size)) if sample >= size else sorted(rng.sample(range(size), sample))
        return [_point(axes, i) for i in indexes]
    if size > LIMIT and not confirm:
        raise BadInput(f"this sweep makes {size} runs (more than {LIMIT})",
                       hint="pass --yes to queue them all, or --sample N to draw N of them")
    return [[f"{axis.target}={value}" for axis, value in zip(axes, combo, strict=True)]
            for combo in itertools.product(*(axis.values for axis in axes))]


def _point(axes: list[Axis], index: int) -> list[str]:
    """The grid point with this index (row-major, as itertools.product orders them)."""
    out = []
    for axis in reversed(axes):
        index, position = divmod(index, len(axis.values))
        out.append(f"{axis.target}={axis.values[position]}")
    return list(reversed(out))
