"""The install's one way to put a directory, a file or a secret in place.

Each call compares what is there (content, mode, owner) with what is wanted and touches
only what differs, recording the change in a :class:`Changes`; an empty record at the end
is how ``ebs install`` knows a second run changed nothing. Files are written with their
final mode from the first byte and replaced atomically, so a secret is never readable by
another account, not even for a moment.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Changes:
    """What a run changed, in order; ``say`` tells the operator as it happens."""

    say: Callable[[str], None] = print
    made: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.made.append(what)
        self.say(f"changed: {what}")


def ids(user: str, group: str) -> tuple[int, int]:
    return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid


def _fix_meta(path: Path, mode: int, user: str, group: str, changes: Changes) -> None:
    uid, gid = ids(user, group)
    st = path.lstat()
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        changes.add(f"{path} owned by {user}:{group}")
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
        changes.add(f"{path} mode {mode:04o}")


def ensure_dir(path: Path, mode: int, user: str, group: str, changes: Changes) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, mode=mode)
        uid, gid = ids(user, group)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        changes.add(f"{path} created")
    _fix_meta(path, mode, user, group, changes)


def _write(path: Path, data: bytes, mode: int, uid: int, gid: int) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_file(path: Path, text: str, mode: int, user: str, group: str,
                changes: Changes, *, keep: bool = False) -> bool:
    """Make ``path`` hold ``text``; with ``keep`` an existing file's content is the
    operator's and stays (its mode and owner are still put right). True when the
    content was written."""
    data = text.encode("utf-8")
    if path.exists() and (keep or path.read_bytes() == data):
        _fix_meta(path, mode, user, group, changes)
        return False
    uid, gid = ids(user, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, data, mode, uid, gid)
    changes.add(f"{path} written")
    return True


def ensure_secret(path: Path, mode: int, user: str, group: str, changes: Changes,
                  make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """The secret in ``path``, generated once; a second run keeps it (and its owner's
    services keep working), only mode and owner are put right."""
    if not path.exists():
        ensure_file(path, make() + "\n", mode, user, group, changes)
    else:
        _fix_meta(path, mode, user, group, changes)
    return path.read_text(encoding="utf-8").strip()


def ensure_symlink(link: Path, target: Path, changes: Changes) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    changes.add(f"{link} -> {target}")


def ensure_absent(path: Path, changes: Changes, why: str) -> None:
    if path.is_symlink() or path.exists():
        path.unlink()
        changes.add(f"{path} removed ({why})")
