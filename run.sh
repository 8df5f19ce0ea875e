#!/usr/bin/env bash
# hermes-ops set-up and entry point for a fresh Debian/Ubuntu machine, run as root.
#   bash run.sh rehearse   the main job: a rehearsal on the local sandbox host
#   bash run.sh test       the whole test suite (what CI runs)
# Both install what they need first (apt packages, a virtualenv, the package) and skip what is there.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(docker.io openssh-server openssh-client debootstrap git make curl ca-certificates iproute2 procps
  chromium fonts-dejavu-core)
VENV=.venv

say() { printf '[run.sh] %s\n' "$*" >&2; }

install_system_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    [ "$(id -u)" = 0 ] || { say "need root to install: ${missing[*]}"; exit 1; }
    say "installing ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

# A Python that pyproject.toml's requires-python accepts (3.11 to 3.13); 3.11 first, what CI runs.
find_python() {
  local candidate
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  say "need Python 3.11, 3.12 or 3.13 (python3.11 from apt, pyenv or uv)"
  exit 1
}

install_python() {
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)" python
  if [ ! -f "$stamp" ]; then
    say "creating $VENV and installing hermes-ops (editable) with its test dependencies"
    if [ ! -x "$VENV/bin/python" ]; then
      python=$(find_python)
      "$python" -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --upgrade pip >&2
    "$VENV/bin/pip" install -q -e '.[test]' >&2
    touch "$stamp"
  fi
}

command=${1:-}
case "$command" in
  rehearse)
    install_system_packages
    install_python
    exec "$VENV/bin/hermes-ops" rehearse
    ;;
  test)
    shift
    install_system_packages
    install_python
    exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
    ;;
  *)
    echo "usage: bash run.sh rehearse | test [pytest args]" >&2
    exit 2
    ;;
esac
