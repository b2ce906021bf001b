"""Prints, as JSON, every command of DVC's CLI with its options (run with DVC's own Python).

`tests/test_dvc_flags.py` runs it with DVC 3.67.1's interpreter and compares xp's parser with it,
so the table of DVC's flags that xp has (docs/dvc-flags.md) is generated from DVC itself.
"""

import argparse
import json

from dvc.cli.parser import get_main_parser


def walk(parser: argparse.ArgumentParser, path: list[str], out: dict) -> None:
    actions = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                walk(sub, [*path, name], out)
        elif action.option_strings and action.dest not in ("help", "quiet", "verbose", "cd", "version"):
            actions.append(sorted(action.option_strings, key=lambda s: (not s.startswith("--"), s)))
    out[" ".join(path)] = actions


found: dict = {}
walk(get_main_parser(), [], found)
print(json.dumps(found, indent=1, sort_keys=True))
