"""Two harnesses on one machine do not clash: a second PostgreSQL and Redis start beside
the session's own, on other ports and directories, and both pairs answer."""

import psycopg
import redis

from stack.servers.base import free_port
from stack.servers.redis import RedisServer
from tests.conftest import make_postgres
from tests.harness import start_with_retry


def test_second_postgres_and_redis_beside_the_first(pg_server, redis_server, tmp_path):
    pg2 = start_with_retry(lambda: make_postgres(tmp_path / "pg2"))
    rd2 = start_with_retry(lambda: RedisServer(tmp_path / "redis2", free_port(), persistent=False))
    try:
        assert pg2.port != pg_server.port and pg2.datadir != pg_server.datadir
        assert rd2.port != redis_server.port
        with psycopg.connect(pg_server.conninfo()) as a, psycopg.connect(pg2.conninfo()) as b:
            a.execute("CREATE TEMP TABLE marker (v int)")
            b.execute("SELECT 1")
            ports = {a.execute("SHOW port").fetchone()[0], b.execute("SHOW port").fetchone()[0]}
        assert ports == {str(pg_server.port), str(pg2.port)}
        r1 = redis.Redis.from_url(redis_server.url)
        r2 = redis.Redis(port=rd2.port)
        r1.set("who", "first")
        r2.set("who", "second")
        assert (r1.get("who"), r2.get("who")) == (b"first", b"second")
    finally:
        rd2.stop()
        pg2.stop()
    assert not pg2.running() and not rd2.running()
    assert pg_server.running() and redis_server.running()
