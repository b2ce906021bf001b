#!/usr/bin/env bash
# The real-VS-Code smoke test: installs what it needs (scripts/e2e-setup.sh), builds and packages
# the extension, then drives code-server 4.100.3 (VS Code 1.100.3) in Debian's chromium through
# extension/test/e2e/smoke.mjs on a project made by `xp demo`. Screenshots and logs go to
# test-output/e2e/ (git-ignored). Exits non-zero when any step fails or cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/e2e-setup.sh
npm run --silent package >/dev/null
echo "e2e: set-up and build took $(( $(date +%s) - started ))s" >&2
export XP_CODE_SERVER="${XP_TOOL_CACHE:-$HOME/.cache/xp}/code-server-4.100.3/node_modules/.bin/code-server"
export XP_PYTHON="${XP_PYTHON:-$PWD/.venv/bin/python}"
export XP_VSIX="$PWD/extension/dist/xp.vsix"
export XP_E2E_OUT="$PWD/test-output/e2e"
exec node extension/test/e2e/smoke.mjs
