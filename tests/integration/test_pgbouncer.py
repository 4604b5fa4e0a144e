"""PgBouncer in transaction pooling before the test database (Debian's 1.18, which does not
track prepared statements): two clients share one server connection. psycopg's automatic
prepare breaks there (the second client's statement meets the first's name); a
connection made by ``billing.db.connect`` from the settings' conninfo prepares nothing
and works. The owner's connection never goes through the pooler."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine, text

from billing import db_pooler
from billing import settings as settings_mod
from billing.db import connect
from stack.servers.base import free_port
from stack.servers.pgbouncer import PgBouncerServer
from tests.conftest import ebs_env
from tests.harness import start_with_retry
from webapp.app import database_url, engine_connect_args

ROLE = "ebs_worker"
WEB = "ebs_web"
QUERY = "SELECT count(*) FROM accounts WHERE id > %s"


@pytest.fixture
def bouncer(pg_server, db, tmp_path):
    server = start_with_retry(lambda: PgBouncerServer(
        directory=tmp_path / "pgbouncer", port=free_port(),
        server_host=str(pg_server.socket_dir), server_port=pg_server.port,
        databases=[conninfo_to_dict(db)["dbname"]],
        users={role: pg_server.password(role) for role in (ROLE, WEB)},
        pool_size=1))  # every transaction on the one server connection
    yield server
    server.stop()


def _alternate(first: psycopg.Connection, second: psycopg.Connection) -> None:
    """The same statement, over and over, on each connection in turn: psycopg prepares
    it on the sixth run (prepare_threshold 5) under its name ``_pg3_0``."""
    for n in range(8):
        for conn in (first, second):
            assert conn.execute(QUERY, (n,)).fetchone() == (0,)


def test_automatic_prepare_breaks_through_transaction_pooling(bouncer, db):
    conninfo = bouncer.conninfo(conninfo_to_dict(db)["dbname"], ROLE)
    with (psycopg.connect(conninfo, autocommit=True) as first,
          psycopg.connect(conninfo, autocommit=True) as second,
          pytest.raises(psycopg.errors.DuplicatePreparedStatement)):
        _alternate(first, second)


def test_the_settings_route_a_component_through_the_pooler_without_prepare(bouncer, db):
    env = {**ebs_env(db), "EBS_DB_POOLER_HOST": "127.0.0.1",
           "EBS_DB_POOLER_PORT": str(bouncer.port), "EBS_DB_POOLER_COMPONENTS": "radius,worker"}
    settings = settings_mod.load(env)
    conninfo = settings_mod.database_conninfo(settings, component="worker")
    assert isinstance(conninfo, db_pooler.PooledConninfo)
    assert conninfo_to_dict(conninfo)["port"] == str(bouncer.port)
    for direct in (None, "web"):  # the owner (migrations) and a component not named
        other = settings_mod.database_conninfo(settings, component=direct)
        assert not isinstance(other, db_pooler.PooledConninfo)
        assert conninfo_to_dict(other)["port"] == conninfo_to_dict(db)["port"]
    before = _queries(bouncer, db)
    with (connect(conninfo, autocommit=True) as first,
          connect(conninfo, autocommit=True) as second):
        assert first.prepare_threshold is None
        _alternate(first, second)
    assert _queries(bouncer, db) >= before + 16  # they went through the pooler


def test_the_web_apps_engine_through_the_pooler_prepares_nothing(bouncer, db):
    settings = settings_mod.load({
        **ebs_env(db), "EBS_DB_HOST": "127.0.0.1", "EBS_DB_POOLER_HOST": "127.0.0.1",
        "EBS_DB_POOLER_PORT": str(bouncer.port), "EBS_DB_POOLER_COMPONENTS": "web"})
    url = database_url(settings)
    assert (url.host, url.port) == ("127.0.0.1", bouncer.port)
    # The jit=off startup option PgBouncer refuses is left out; nothing is prepared.
    engine = create_engine(url, connect_args=engine_connect_args(settings))
    try:
        with engine.connect() as first, engine.connect() as second:
            for n in range(8):
                for conn in (first, second):
                    assert conn.execute(text("SELECT count(*) FROM accounts WHERE id > :n"),
                                        {"n": n}).scalar() == 0
                    conn.commit()
    finally:
        engine.dispose()
    assert engine_connect_args(settings_mod.load(ebs_env(db))) == {"options": "-c jit=off"}


def test_no_pooler_port_no_pooler(db):
    settings = settings_mod.load({**ebs_env(db), "EBS_DB_POOLER_COMPONENTS": "worker"})
    assert db_pooler.pooled_components(settings) == set()
    assert not isinstance(settings_mod.database_conninfo(settings, component="worker"),
                          db_pooler.PooledConninfo)


def _queries(bouncer: PgBouncerServer, db: str) -> int:
    name = conninfo_to_dict(db)["dbname"]
    return sum(int(row["total_query_count"]) for row in bouncer.show("STATS")
               if row["database"] == name)  # no row before its first pool
