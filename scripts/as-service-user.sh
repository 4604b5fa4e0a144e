#!/usr/bin/env bash
# Run a command as the unprivileged account that owns ./var. PostgreSQL refuses to run as
# root and no server of the stack should, so when called as root (CI, a fresh box) we
# create the account, let it reach the checkout (which may sit under /root, mode 700) and
# switch to it; anyone else runs the command as themselves.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
user=${EBS_SERVICE_USER:-ebs}

if [ "$(id -u)" -ne 0 ]; then
  mkdir -p var
  exec "$@"
fi

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
          --shell /usr/sbin/nologin "$user"
fi

# Grant traversal (not listing) of every ancestor the account cannot enter.
dir="$top"
while [ "$dir" != "/" ]; do
  if ! runuser -u "$user" -- test -x "$dir"; then
    # An ACL entry grants just this account; where the filesystem has none, o+x.
    setfacl -m "u:$user:x" "$dir" 2>/dev/null || chmod o+x "$dir"
  fi
  dir=$(dirname "$dir")
done

mkdir -p var
chown -R "$user:" var
export HOME="$top/var/home"
mkdir -p "$HOME" && chown "$user:" "$HOME"
exec runuser -u "$user" -- env PYTHONDONTWRITEBYTECODE=1 HOME="$HOME" "$@"
