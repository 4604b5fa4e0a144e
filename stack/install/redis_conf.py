"""Debian's Redis with a password: ``requirepass`` in a file of its own that Debian's
redis.conf includes (its other defaults, loopback only, stay Debian's). Without one any
local account could post Celery tasks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from billing import settings as settings_mod
from stack.install.files import Changes, ensure_file
from stack.install.systemd import enable_now, restart

REDIS_CONF = Path("/etc/redis/redis.conf")
EBS_CONF = Path("/etc/redis/ebs.conf")
UNIT = "redis-server.service"


class RedisConfigError(RuntimeError):
    """Debian's redis.conf is missing or the password cannot be written into a config."""


def ensure_redis(settings: SimpleNamespace, changes: Changes) -> None:
    password = settings_mod.redis_password(settings)
    if not password or any(c.isspace() or c in "\"'" for c in password):
        raise RedisConfigError("the Redis password must be set and hold no spaces or quotes")
    if not REDIS_CONF.exists():
        raise RedisConfigError(f"{REDIS_CONF} is missing: is redis-server installed?")
    changed = ensure_file(
        EBS_CONF, f"# Written by `ebs install`: the broker's password.\n"
                  f"port {int(settings.REDIS_PORT)}\nrequirepass {password}\n",
        0o640, "redis", "redis", changes)
    include = f"include {EBS_CONF}"
    text = REDIS_CONF.read_text(encoding="utf-8")
    if include not in text.splitlines():
        # Redis reads the file top to bottom: the include last, so its values win.
        ensure_file(REDIS_CONF, text.rstrip("\n") + f"\n\n{include}\n", 0o640, "redis",
                    "redis", changes)
        changed = True
    enable_now([UNIT], changes)
    if changed:
        restart(UNIT, changes, "password")
