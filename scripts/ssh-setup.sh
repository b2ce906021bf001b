#!/usr/bin/env bash
# Makes sure Debian's OpenSSH server (`sshd`) is installed: the tests of SSH remotes start their own
# server from it, on 127.0.0.1 and a free port, with keys made for the test. Quick when it is already
# there; on a clean machine (CI runs as root) it installs the package with apt-get. Prints sshd's path.
set -euo pipefail
sshd=/usr/sbin/sshd
if [ ! -x "$sshd" ]; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "sshd is missing: install it with 'apt-get install -y openssh-server' (as root)" >&2
    exit 1
  fi
  as_root=""
  [ "$(id -u)" != 0 ] && as_root="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $as_root apt-get install -y -q --no-install-recommends openssh-server >&2 \
    || { $as_root apt-get update -q >&2 && $as_root apt-get install -y -q --no-install-recommends openssh-server >&2; }
  # Debian's package may start a system-wide server on port 22; the tests start their own.
fi
echo "$sshd"
