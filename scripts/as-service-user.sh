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

# Let the account reach the checkout: traverse (not list) each ancestor, read the checkout
# itself. Walk from / down, since a directory below one it cannot enter looks closed too.
grant() {  # grant DIR PERMS: an ACL entry for just this account, or world bits without ACLs
  setfacl -m "u:$user:$2" "$1" 2>/dev/null || chmod "o+$2" "$1"
}
path=""
IFS=/ read -ra parts <<< "${top#/}"
for part in "${parts[@]}"; do
  path="$path/$part"
  if [ "$path" = "$top" ]; then
    runuser -u "$user" -- test -r "$path" -a -x "$path" || grant "$path" rx
  else
    runuser -u "$user" -- test -x "$path" || grant "$path" x
  fi
done

mkdir -p var
chown -R "$user:" var
export HOME="$top/var/home"
mkdir -p "$HOME" && chown "$user:" "$HOME"
exec runuser -u "$user" -- env PYTHONDONTWRITEBYTECODE=1 HOME="$HOME" "$@"
