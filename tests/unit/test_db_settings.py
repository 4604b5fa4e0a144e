"""Each component's database login from the settings: its own role, its password from
its own file; the owner without a file logs in by the socket's peer authentication."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from billing import settings as settings_mod


def load(tmp_path, **env):
    return settings_mod.load(environ={"EBS_SETTINGS": str(tmp_path / "none.py"),
                                      "EBS_STATE_DIR": str(tmp_path), **env})


@pytest.fixture(autouse=True)
def no_file(tmp_path):
    (tmp_path / "none.py").write_text("")


@pytest.mark.parametrize("component", settings_mod.COMPONENTS)
def test_a_component_logs_in_with_its_role_and_its_files_password(tmp_path, component):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    role = f"ebs_{component}"
    (secrets / f"db-{role}.password").write_text(f"pw-{component}\n")
    params = conninfo_to_dict(settings_mod.database_conninfo(load(tmp_path), component=component))
    assert (params["user"], params["password"]) == (role, f"pw-{component}")
    assert params["application_name"] == f"ebs-{component}"


def test_a_named_password_file_wins_and_a_missing_one_is_an_error(tmp_path):
    named = tmp_path / "web.pw"
    named.write_text("from-the-named-file")
    settings = load(tmp_path, EBS_DB_WEB_PASSWORD_FILE=str(named), EBS_DB_WEB_USER="web2")
    assert settings_mod.database_role(settings, "web") == ("web2", "from-the-named-file")
    missing = load(tmp_path, EBS_DB_WORKER_PASSWORD_FILE=str(tmp_path / "absent"))
    with pytest.raises(settings_mod.SettingsError, match="absent"):
        settings_mod.database_role(missing, "worker")


def test_the_owner_without_a_password_file_uses_peer_and_an_unknown_part_is_refused(tmp_path):
    settings = load(tmp_path, EBS_DB_HOST="")
    params = conninfo_to_dict(settings_mod.database_conninfo(settings))
    assert params["user"] == "ebs" and "password" not in params
    assert params["host"] == str(tmp_path / "run")
    with pytest.raises(settings_mod.SettingsError):
        settings_mod.database_role(settings, "cabinet")
