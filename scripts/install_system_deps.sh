#!/usr/bin/env bash
# The Debian packages the harness needs besides Python's: bubblewrap (`bwrap`), the sandbox that
# `algoperf-like check` uses by default and `run`/`suite --sandbox` use (algoperf_like/sandbox.py).
# Installs only what is missing; needs apt-get and root (or password-less sudo).
# `make sandbox-deps` runs it; so do `make test` and `make wheel-test`, and tests/test_sandbox.py.
set -euo pipefail

if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps.sh: bwrap is missing and there is no apt-get here:" \
    "install bubblewrap with this system's package manager" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install_system_deps.sh: bwrap is missing: run 'apt-get install bubblewrap' as root" >&2
    exit 1
  fi
fi
echo "install_system_deps.sh: installing bubblewrap" >&2
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq bubblewrap >/dev/null
command -v bwrap >/dev/null
