#!/usr/bin/env bash
# Makes sure Debian's `redis-server` is installed (the tests of the Redis queue backend start
# their own server from it, on 127.0.0.1 and a free port). Quick when it is already there; on a
# clean machine (CI runs as root) it installs the package with apt-get. Prints the server's path.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "redis-server is missing: install it with 'apt-get install -y redis-server' (as root)" >&2
    exit 1
  fi
  as_root=""
  [ "$(id -u)" != 0 ] && as_root="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: refresh them once, then install.
  $as_root apt-get install -y -q --no-install-recommends redis-server >&2 \
    || { $as_root apt-get update -q >&2 && $as_root apt-get install -y -q --no-install-recommends redis-server >&2; }
  # Debian's package starts a system-wide server on port 6379; the tests start their own, so it
  # is left as the package set it up.
fi
command -v redis-server
