#!/usr/bin/env bash
# Installs DVC 3.67.1 from PyPI into its own virtual environment (never the project's) and prints
# the path of its `dvc` executable. Used by the interop tests and the benchmarks. The venv lives
# in a cache folder keyed by the version, so reruns on the same machine install nothing. dvc-s3 and dvc-ssh
# (DVC's plugins) too: the remote tests check that DVC reads what xp pushed to S3 and SSH, and the other way round.
set -euo pipefail
version=3.67.1
root="${XP_TOOL_CACHE:-$HOME/.cache/xp}/dvc-$version"
if [ ! -x "$root/bin/dvc" ] || ! "$root/bin/dvc" --version >/dev/null 2>&1; then
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  python3 -m venv "$root" >&2
  "$root/bin/pip" install --quiet --disable-pip-version-check "dvc==$version" >&2
fi
if ! "$root/bin/python" -c "import dvc_s3, dvc_ssh" >/dev/null 2>&1; then
  "$root/bin/pip" install --quiet --disable-pip-version-check "dvc==$version" "dvc-s3==3.3.0" "dvc-ssh==4.2.1" >&2
fi
echo "$root/bin/dvc"
