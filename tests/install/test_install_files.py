"""The install's file primitives change only what differs and say so: a second run of the
same calls records nothing, a generated secret is kept, a wrong mode is put right and
recorded, an operator's file kept with ``keep``."""

from __future__ import annotations

import grp
import os
import pwd
import stat

from stack.install.files import Changes, ensure_dir, ensure_file, ensure_secret

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_second_run_changes_nothing(tmp_path):
    def run() -> tuple[Changes, str]:
        changes = Changes(say=lambda _line: None)
        ensure_dir(tmp_path / "etc", 0o750, USER, GROUP, changes)
        ensure_file(tmp_path / "etc" / "site.conf", "listen 443;\n", 0o644, USER, GROUP,
                    changes)
        secret = ensure_secret(tmp_path / "etc" / "key", 0o600, USER, GROUP, changes)
        return changes, secret

    first, secret = run()
    assert len(first.made) == 3
    assert mode(tmp_path / "etc") == 0o750 and mode(tmp_path / "etc" / "key") == 0o600
    assert len(secret) >= 32
    second, again = run()
    assert second.made == [] and again == secret

    (tmp_path / "etc" / "key").chmod(0o644)
    (tmp_path / "etc" / "site.conf").write_text("listen 80;\n")
    third, kept = run()
    assert kept == secret
    assert third.made == [f"{tmp_path}/etc/site.conf written", f"{tmp_path}/etc/key mode 0600"]
    assert (tmp_path / "etc" / "site.conf").read_text() == "listen 443;\n"
    assert not list(tmp_path.glob("etc/.*.new"))


def test_an_operators_file_is_kept(tmp_path):
    path = tmp_path / "settings_local.py"
    changes = Changes(say=lambda _line: None)
    assert ensure_file(path, "A = 1\n", 0o644, USER, GROUP, changes, keep=True)
    path.write_text("A = 2\n")
    assert not ensure_file(path, "A = 1\n", 0o644, USER, GROUP, changes, keep=True)
    assert path.read_text() == "A = 2\n"
    assert changes.made == [f"{path} written"]
