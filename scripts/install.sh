#!/usr/bin/env bash
# The production install on Debian 12, run as root from a checkout: the system packages,
# the code under /opt/ebs (a copy in src/, installed into the virtualenv venv/ made with
# Debian's /usr/bin/python3, which FreeRADIUS embeds), then `ebs install` for the rest
# (stack/install/: accounts, /etc/ebs, secrets, PostgreSQL, Redis, FreeRADIUS, systemd
# units, nginx). Safe to run again: a second run changes nothing and says so.
#
# EBS_INSTALL_NO_SYSTEMD=1 starts, enables and restarts nothing (a chroot without systemd).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
opt=/opt/ebs
os_release=${EBS_OS_RELEASE:-/etc/os-release}

# Debian 12 or nothing, before anything is changed (`ebs install` asks again).
( . "$os_release" 2>/dev/null && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] ) || {
  name=$( (. "$os_release" 2>/dev/null && echo "${PRETTY_NAME:-${ID:-unknown} ${VERSION_ID:-}}") \
          || echo "unknown (no readable $os_release)")
  echo "install: this system is $name; the install supports Debian 12 (bookworm) only:" \
       "its package names, paths and service units are Debian 12's. Nothing was changed." >&2
  exit 2
}
if [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo bash scripts/install.sh)" >&2
  exit 1
fi

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' \
                        "$top/scripts/install-packages.txt")
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install: Debian packages present"
fi

# The code: a copy readable by every service account (FreeRADIUS's freerad imports it).
install -d -m 0755 "$opt" "$opt/src"
if [ "$top" != "$opt/src" ]; then
  changed=$(rsync -rlptO --delete --itemize-changes --chmod=Dgo+rx,Dgo-w,Fgo+r,Fgo-w \
            --exclude=/.git --exclude=/.venv --exclude=/var --exclude=/settings_local.py \
            --exclude='__pycache__' --exclude='*.egg-info' --exclude=/.vagrant \
            "$top/" "$opt/src/")
  if [ -n "$changed" ]; then
    echo "install: code copied to $opt/src"
    # `ebs install` restarts the running services onto it.
    export EBS_INSTALL_CODE_CHANGED=1
  fi
fi

# The virtualenv, with Debian's python3 (FreeRADIUS's rlm_python3 embeds that interpreter
# and imports our packages from it); pip runs again only when the dependencies changed.
stamp=$opt/venv/.ebs-installed
want=$(sha256sum "$opt/src/pyproject.toml" | cut -d' ' -f1)
if [ ! -x "$opt/venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$opt/venv"
  echo "install: virtualenv made in $opt/venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # pip trusts Debian's CA store, with the CAs the operator added to it (a proxy's).
  PIP_CERT=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt} \
    "$opt/venv/bin/python" -m pip install -q --disable-pip-version-check -e "$opt/src"
  echo "$want" > "$stamp"
  echo "install: Python packages installed into $opt/venv"
fi

exec "$opt/venv/bin/ebs" install
