"""Shared fixtures: one private PostgreSQL and Redis per test session, a fresh database
per test cloned from a migrated template (a file copy, a few tens of milliseconds).

The cluster's roles (the owner and one per component, stack/db_roles.py) are created
once at its start; every cloned database carries the migrations' grants to them. Tests
connect as the owner over the socket; a part the test starts logs in with its own role
(tests/harness.py role_fields, and ebs_env for worker tasks and the `ebs` command)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from psycopg.conninfo import conninfo_to_dict

from billing import schema
from stack import db_roles
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer
from stack.servers.redis import RedisServer
from tests.harness import secrets_dir, start_with_retry
from tests.nas_simulator import nas_simulator

ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = ROOT / "var" / "test-artefacts"

settings.register_profile(
    "ebs",
    database=DirectoryBasedExampleDatabase(str(ROOT / "var" / "cache" / "hypothesis")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ebs"))

TEMPLATE_DB = "ebs_template"


def ebs_env(conninfo: str, tmp_settings: Path | None = None) -> dict[str, str]:
    """EBS_* variables that point the `ebs` command (the owner, over the socket) and every
    component (its own role and generated password) at a test database."""
    params = conninfo_to_dict(conninfo)
    env = {
        "EBS_DB_HOST": params["host"],
        "EBS_DB_PORT": str(params["port"]),
        "EBS_DB_NAME": params["dbname"],
        "EBS_DB_USER": params["user"],
        "EBS_TIME_ZONE": "Europe/Moscow",
    }
    env.update(db_roles.settings_env(secrets_dir(conninfo)))
    if tmp_settings is not None:
        env["EBS_SETTINGS"] = str(tmp_settings)
    return env


def make_postgres(base: Path) -> PostgresServer:
    return PostgresServer(
        datadir=base / "pgdata",
        port=free_port(),
        socket_dir=base / "pgsock",
        durable=False,
    )


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("pg")
    server = start_with_retry(lambda: make_postgres(base))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def template_db(pg_server):
    pg_server.create_database(TEMPLATE_DB)
    with psycopg.connect(pg_server.conninfo(TEMPLATE_DB), autocommit=True) as conn:
        schema.upgrade(conn)
    return TEMPLATE_DB


@pytest.fixture
def db(pg_server, template_db):
    """A clean, migrated database of its own for one test; returns its conninfo."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name, template=template_db)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


@pytest.fixture
def conn(db):
    with psycopg.connect(db, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def zone_results() -> dict:
    """What a module's walks found, by timezone, for its "same in every zone" test."""
    return {}


@pytest.fixture
def fresh_conn(pg_server, template_db):
    """Opens connections to further clean databases, one per call: for a test that needs
    another walk as if it ran alone (the charge tick's settled time is per database)."""
    names: list[str] = []

    @contextmanager
    def connect() -> Iterator[psycopg.Connection]:
        name = f"t_{uuid.uuid4().hex[:12]}"
        pg_server.create_database(name, template=template_db)
        names.append(name)
        with psycopg.connect(pg_server.conninfo(name), autocommit=True) as connection:
            yield connection

    yield connect
    for name in names:
        pg_server.drop_database(name)


@pytest.fixture
def empty_db(pg_server):
    """A database with no schema at all, for migration tests."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name)
    yield pg_server.conninfo(name)
    pg_server.drop_database(name)


# The secret every CoA test's NAS row and simulator share.
COA_SECRET = b"coa-test-secret-of-the-nas"


@pytest.fixture
def sim():
    """A NAS's Dynamic Authorization server on 127.0.0.1 (tests/nas_simulator.py), for the
    CoA/Disconnect tests."""
    with nas_simulator(COA_SECRET) as simulator:
        yield simulator


@pytest.fixture
def env(db, monkeypatch):
    """The EBS_* variables that point worker tasks run in the test at its database."""
    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("redis")
    password = secrets.token_urlsafe(24)  # as the local stack's: no client gets in without
    server = start_with_retry(lambda: RedisServer(base, free_port(), persistent=False,
                                                  password=password))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS
