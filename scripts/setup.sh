#!/usr/bin/env bash
# Install everything journeymap needs on a fresh Debian machine, skipping what is there:
# Debian packages (as root, only when missing), uv, and a .venv synced to requirements.lock.
# Called by `make` before demo, test, lint and bench; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chromium fonts-nanum poppler-utils openjdk-17-jre-headless)
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if [[ $pkg == openjdk-* ]] && command -v java >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "setup: need root to install ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fc-cache -f >/dev/null 2>&1 || true
fi

# Trust the machine's certificate store (a company proxy's CA included), as pip does.
export UV_SYSTEM_CERTS=${UV_SYSTEM_CERTS:-1}

UV=$(command -v uv || true)
if [[ -z $UV ]]; then
  if [[ ! -x .tools/bin/uv ]]; then
    echo "setup: installing uv $UV_VERSION into .tools/"
    "$PYTHON" -m venv .tools
    .tools/bin/python -m pip install -q "uv==$UV_VERSION"
  fi
  UV=.tools/bin/uv
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$UV" venv -q --python "$PYTHON" .venv
fi
export VIRTUAL_ENV=$PWD/.venv
"$UV" pip sync -q requirements.lock
"$UV" pip install -q --no-deps -e .
