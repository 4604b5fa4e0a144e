"""Starting private servers for tests: free ports, temp directories, retried on a clash."""

from __future__ import annotations

from pathlib import Path

from stack.servers.base import start_with_retry  # noqa: F401 (the tests' name)


def secrets_dir(conninfo: str) -> Path:
    """Where the harness's cluster keeps its roles' passwords: beside its socket directory
    (PostgresServer.secrets), which the owner's conninfo names as its host."""
    from psycopg.conninfo import conninfo_to_dict

    return Path(conninfo_to_dict(conninfo)["host"]).parent / "secrets"


def role_fields(conninfo: str, component: str) -> dict[str, object]:
    """How ``component`` (web, worker, radius, acct, flow, reports) reaches the test
    database ``conninfo`` names: its own role, over TCP, with its generated password."""
    from psycopg.conninfo import conninfo_to_dict

    from stack import db_roles

    params = conninfo_to_dict(conninfo)
    role = db_roles.COMPONENT_ROLES[component]
    password = db_roles.read_password(db_roles.password_file(secrets_dir(conninfo), role))
    return {"db_host": "127.0.0.1", "db_port": int(params["port"]),
            "db_name": params["dbname"], "db_user": role, "db_password": password}


def role_conninfo(conninfo: str, component: str) -> str:
    """A libpq connection string for ``component``'s role to the same database."""
    from psycopg.conninfo import make_conninfo

    f = role_fields(conninfo, component)
    return make_conninfo(host=f["db_host"], port=f["db_port"], dbname=f["db_name"],
                         user=f["db_user"], password=f["db_password"])


def radius_db_fields(conninfo: str) -> dict[str, object]:
    """FreeRadiusServer's database fields for the test database ``conninfo`` names: the
    FreeRADIUS role's own login."""
    return role_fields(conninfo, "radius")
