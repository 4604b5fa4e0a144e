#!/usr/bin/env bash
# Install the Debian packages the stack and its tests need, only when something is missing,
# so a second run of `make test` or `make demo` installs nothing.
set -euo pipefail

PACKAGES=(
  postgresql postgresql-contrib redis-server
  pgbouncer  # transaction pooling before PostgreSQL (docs/scaling.md; 1.18 on Debian 12)
  freeradius freeradius-python3 freeradius-postgresql freeradius-utils
  pmacct softflowd
  python3-venv python3-dev
  chromium fonts-dejavu-core
  libjs-chart.js  # Chart.js: the web app serves it to its own pages (no CDN)
  build-essential libpq-dev acl rsync
  debootstrap  # make install-check: the production install in a Debian 12 chroot
  systemd-container  # make install-check: that chroot booted with systemd (systemd-nspawn)
  vagrant  # tests/install/test_vagrantfile.py: `vagrant validate` of the test box
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's maintainer scripts would start system services on the default ports; the stack
# runs its own on other ports, so keep package installs from starting anything.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
