#!/usr/bin/env bash
# Create or refresh .venv with Python 3.10 and the pinned packages of requirements.lock. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidates=()
  [ -n "${AMANI_PYTHON:-}" ] && candidates+=("$AMANI_PYTHON")
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  if command -v pyenv >/dev/null 2>&1; then
    for p in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do [ -x "$p" ] && candidates+=("$p"); done
  fi
  for p in "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    [ -x "$p" ] && candidates+=("$p")
  done
  for p in "${candidates[@]}"; do
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

lock_hash=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat .venv/.lock-hash 2>/dev/null)" = "$lock_hash" ]; then
  echo "setup: .venv is up to date with requirements.lock"
  exit 0
fi

if ! PY=$(find_python); then
  echo "setup: Rasa 3.6 needs Python 3.10, and none was found." >&2
  echo "       Install it (e.g. 'pyenv install 3.10.13') or point AMANI_PYTHON at a python3.10." >&2
  exit 1
fi
echo "setup: using $PY"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
echo "setup: installing pinned packages from requirements.lock (first run downloads ~4 GB; later runs use pip's cache)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check "pip==24.3.1"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
echo "$lock_hash" > .venv/.lock-hash
echo "setup: .venv ready"
