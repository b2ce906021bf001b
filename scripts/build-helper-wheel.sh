#!/usr/bin/env bash
# Builds the helper's wheel (the xp-experiments Python package) into extension/dist/wheels/, which
# `npm run package` puts inside the .vsix; "XP: Install xp Helper" pip-installs it from there.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${XP_PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
rm -rf extension/dist/wheels build/lib build/bdist.*
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps . -w extension/dist/wheels 2>&1 \
  | { grep -v "^WARNING: Location" || true; } >&2
ls extension/dist/wheels/*.whl >/dev/null
