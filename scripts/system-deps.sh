#!/usr/bin/env bash
# Installs the Debian packages that the whole test run needs, where they are missing: the C++ toolchain and numpy
# (engine tests), jsonschema (grammar test), chromium (browser and VS Code tests), libkrb5-dev (code-server's
# kerberos module), and the aarch64 cross compiler + qemu-user (the arm64 check). Needs root (or sudo) when
# something is missing; otherwise it does nothing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have cmake || need+=(cmake)
have g++ || need+=(g++)
have make || need+=(make)
have python3 || need+=(python3)
python3 -c "import numpy" 2>/dev/null || need+=(python3-numpy)
python3 -c "import jsonschema" 2>/dev/null || need+=(python3-jsonschema)
[ -x /usr/bin/chromium ] || need+=(chromium)
installed libkrb5-dev || need+=(libkrb5-dev)
have aarch64-linux-gnu-g++ || need+=(g++-aarch64-linux-gnu)
installed libc6-arm64-cross || need+=(libc6-arm64-cross)
have qemu-aarch64 || need+=(qemu-user)
if ((${#need[@]} == 0)); then exit 0; fi
echo "system-deps: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  if have sudo; then sudo="sudo"; else
    echo "system-deps: missing Debian packages: ${need[*]} (run as root, or: apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
