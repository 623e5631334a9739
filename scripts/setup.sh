#!/usr/bin/env bash
# Installs everything the federation needs on a fresh Debian machine. Idempotent: a second run
# only checks. Run as root (CI and the development machines are root); uses sudo otherwise.
set -euo pipefail

PACKAGES=(
  pkg-config libssl-dev libsqlite3-dev libpq-dev
  libxml2-dev libxml2-utils xmlsec1 libxmlsec1-dev
  softhsm2 opensc
  opensaml-schemas xmltooling-schemas
  chromium chromium-driver
  python3-pysaml2
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

command -v cargo >/dev/null || { echo "setup: cargo not found (install Rust with rustup)" >&2; exit 1; }
