#!/usr/bin/env bash
# The production install checked in a Debian 12 chroot (`make install-check`, run by CI as
# root): debootstrap's base, cached as a tarball under var/install-check so the next run
# only unpacks it; the downloaded .debs cached in /var/cache/ebs-install-check.
# scripts/install.sh runs in the chroot with EBS_INSTALL_NO_SYSTEMD=1 (no systemd there:
# nothing is started through it; the install starts the chroot's PostgreSQL with
# pg_ctlcluster), then tests/install/ asserts what the install left, from the host, the
# chroot's PostgreSQL still running. Then the same tree is booted with systemd
# (systemd-nspawn, the host's network), the install runs again as on a server, enabling
# and starting its units, and tests/install/test_booted.py drives the services systemd
# runs. Everything mounted is unmounted, the booted system is shut down and every process
# left inside the chroot is ended on the way out, whatever happened.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-check: run as root (debootstrap, chroot and mounts need it)" >&2
  exit 1
fi
for tool in debootstrap rsync; do
  command -v "$tool" >/dev/null || { echo "install-check: $tool missing (make deps)" >&2; exit 1; }
done

# The base's tarball and the logs live under var/; the chroot and the download cache
# never do: scripts/as-service-user.sh hands var/ to the service account (chown -R)
# whenever tests start, which would make a chroot there the service account's (a tarball
# keeps its owners inside).
work=$top/var/install-check
base=$work/bookworm-base.tar.gz
downloads=${EBS_INSTALL_CHECK_CACHE:-/var/cache/ebs-install-check}
scratch=$(mktemp -d /var/tmp/ebs-install-check.XXXXXX)
root=$scratch/root
mirror=${EBS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work" "$downloads/apt/partial"
started=$SECONDS

mounted=()
mount_in() {  # mount_in TARGET MOUNT-ARGS...
  mkdir -p "$1"
  mount "${@:2}" "$1"
  mounted+=("$1")
}
end_chroot_processes() {
  if [ -x "$root/usr/bin/pg_ctlcluster" ] && [ -d "$root/proc/self" ]; then
    chroot "$root" pg_ctlcluster 15 main stop -m fast >/dev/null 2>&1 || true
  fi
  # Whatever still runs with its root in the chroot was started by this check: asked to
  # stop, then, a few seconds later, killed.
  for signal in TERM KILL; do
    left=0
    for proc in /proc/[0-9]*; do
      if [ "$(readlink "$proc/root" 2>/dev/null)" = "$root" ]; then
        kill "-$signal" "${proc#/proc/}" 2>/dev/null && left=1
      fi
    done
    [ "$left" = 0 ] || [ "$signal" = KILL ] || sleep 3
  done
}
unmount_all() {
  for ((i=${#mounted[@]}-1; i>=0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
  done
  mounted=()
}
boot_pid=""
shut_down() {  # the booted system: systemd-nspawn turns SIGTERM into an orderly poweroff
  [ -n "$boot_pid" ] || return 0
  kill -TERM "$boot_pid" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$boot_pid" 2>/dev/null || break
    sleep 1
  done
  kill -KILL "$boot_pid" 2>/dev/null || true
  wait "$boot_pid" 2>/dev/null || true
  boot_pid=""
}
cleanup() {
  shut_down
  end_chroot_processes
  unmount_all
  if ! grep -q " $scratch/" /proc/mounts; then
    rm -rf --one-file-system "$scratch"
  else
    echo "install-check: $scratch still has mounts; left in place" >&2
  fi
}
trap cleanup EXIT

if [ ! -f "$base" ]; then
  echo "install-check: debootstrap bookworm (once; cached in $base)"
  # minbase and systemd: a server's Debian 12 (systemd-analyze verifies the units).
  if ! debootstrap --variant=minbase --include=systemd,systemd-sysv bookworm \
       "$scratch/base" "$mirror" > "$scratch/debootstrap.log" 2>&1; then
    tail -20 "$scratch/debootstrap.log" >&2
    echo "install-check: debootstrap failed" >&2
    exit 1
  fi
  rm -f "$scratch/base/var/cache/apt/archives/"*.deb
  tar -C "$scratch/base" --one-file-system --numeric-owner -czf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf --one-file-system "$scratch/base"
fi

mkdir -p "$root"
tar -C "$root" --numeric-owner -xzpf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The host's own CAs (a proxy that inspects TLS) are the chroot's too: Debian's
# ca-certificates adds them to the store when install.sh installs it.
if [ -d /usr/local/share/ca-certificates ]; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
# Package scripts start nothing here: there is no init to ask.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount_in "$root/proc" -t proc proc
mount_in "$root/sys" -t sysfs sysfs
mount_in "$root/dev" --bind /dev
mount_in "$root/dev/pts" --bind /dev/pts
mount_in "$root/dev/shm" -t tmpfs -o mode=1777 shm  # PostgreSQL's shared memory
mount_in "$root/var/cache/apt/archives" --bind "$downloads/apt"

# The checkout as an operator would have it.
rsync -a --exclude=/.git --exclude=/.venv --exclude=/var --exclude=/settings_local.py \
  --exclude='__pycache__' --exclude='*.egg-info' "$top/" "$root/usr/src/ebs/"

echo "install-check: scripts/install.sh in the chroot (log: $work/install-1.log)"
if ! chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
     EBS_INSTALL_NO_SYSTEMD=1 bash /usr/src/ebs/scripts/install.sh > "$work/install-1.log" 2>&1; then
  tail -40 "$work/install-1.log" >&2
  echo "install-check: the install failed in the chroot" >&2
  exit 1
fi
echo "install-check: install took $((SECONDS - started)) s; checking it"

EBS_INSTALL_CHROOT=$root PYTHONDONTWRITEBYTECODE=1 \
  "$top/.venv/bin/python" -m pytest tests/install -q -p no:cacheprovider \
  -W ignore::pytest.PytestConfigWarning
echo "install-check: the chroot passed in $((SECONDS - started)) s; booting it with systemd"

# --- The same system booted: systemd runs the units -------------------------------------
end_chroot_processes
unmount_all
rm -f "$root/usr/sbin/policy-rc.d"
# systemd-nspawn keeps its mount propagation directory under /run and removes it only
# from a tmpfs (on a server /run is one; here it may not be).
if [ "$(stat -f -c %T /run)" != tmpfs ]; then
  mount_in /run/systemd/nspawn -t tmpfs -o mode=755 nspawn
fi
# --keep-unit and --register=no: no systemd or machined needed on the host.
systemd-nspawn --quiet --boot --register=no --keep-unit --machine=ebs-install-check \
  --directory="$root" --bind="$downloads/apt:/var/cache/apt/archives" \
  < /dev/null > "$work/boot.log" 2>&1 &
boot_pid=$!
leader=""
for _ in $(seq 60); do
  leader=$(pgrep -P "$boot_pid" -x systemd || true)
  [ -n "$leader" ] && break
  kill -0 "$boot_pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$leader" ]; then
  tail -30 "$work/boot.log" >&2
  echo "install-check: systemd-nspawn did not boot the chroot" >&2
  exit 1
fi
booted() {  # a command in the booted system, as its root with a clean environment
  nsenter --target "$leader" --mount --uts --ipc --pid -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
state=$(timeout 180 nsenter --target "$leader" --mount --uts --ipc --pid -- \
        systemctl is-system-running --wait 2>&1 || true)
echo "install-check: booted ($state); scripts/install.sh under systemd (log: $work/install-2.log)"
if ! booted bash /usr/src/ebs/scripts/install.sh > "$work/install-2.log" 2>&1; then
  tail -40 "$work/install-2.log" >&2
  echo "install-check: the install failed under systemd" >&2
  exit 1
fi
EBS_INSTALL_CHROOT=$root EBS_INSTALL_BOOTED=$leader PYTHONDONTWRITEBYTECODE=1 \
  "$top/.venv/bin/python" -m pytest tests/install/test_booted.py -q -p no:cacheprovider \
  -W ignore::pytest.PytestConfigWarning
shut_down
echo "install-check: passed in $((SECONDS - started)) s"
