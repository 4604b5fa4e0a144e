"""Release fixtures: a database as a release left it, demo data in it, kept under
``tests/fixtures/release-<version>.sql.gz`` so the upgrade tests start from every release.

A fixture is built from scratch on a private PostgreSQL (never the stack's): the schema of
this checkout (``billing.schema.upgrade``), then the demo (``cli.demo.load``) at a fixed
moment, then ``pg_dump`` as plain SQL, gzipped. Regenerate one only for the release it
names, from that release's commit: ``scripts/release-fixture.sh``.
"""

from __future__ import annotations

import gzip
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from billing import schema
from billing.settings import PROJECT_ROOT
from cli import demo
from stack.servers.base import free_port
from stack.servers.postgres import PostgresServer, pg_bindir

FIXTURES_DIR = PROJECT_ROOT / "tests" / "fixtures"
# The demo's present in every fixture: its history is the 40 days before this moment.
DEMO_NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
DEMO_TZ = ZoneInfo("Europe/Moscow")


def fixture_path(version: str) -> Path:
    return FIXTURES_DIR / f"release-{version}.sql.gz"


def release_fixtures() -> list[tuple[str, Path]]:
    """Every committed release fixture as (version, path), oldest release first."""
    found = []
    for path in FIXTURES_DIR.glob("release-*.sql.gz"):
        version = path.name.removeprefix("release-").removesuffix(".sql.gz")
        found.append((version, path))
    return sorted(found, key=lambda vp: tuple(int(p) for p in vp[0].split(".")))


def dump(conninfo: str) -> bytes:
    """The database as plain SQL. psql's \\restrict lines (a random key per dump) go, so a
    dump of the same database reads the same."""
    out = subprocess.run(
        [str(pg_bindir() / "pg_dump"), "--no-owner", "--dbname", conninfo],
        check=True, capture_output=True,
    ).stdout
    return b"".join(line for line in out.splitlines(keepends=True)
                    if not line.startswith((b"\\restrict", b"\\unrestrict")))


def restore(conninfo: str, path: Path) -> None:
    """Load a fixture into an empty database; stops at the first error."""
    subprocess.run(
        [str(pg_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", conninfo],
        input=gzip.decompress(path.read_bytes()), check=True, capture_output=True,
    )


def build(out: Path, upto: str | None = None) -> Path:
    """Build this checkout's release fixture into ``out`` (gzip, no timestamp inside);
    ``upto`` leaves out the migrations newer than that version."""
    with tempfile.TemporaryDirectory(prefix="ebs-fixture-") as tmp:
        base = Path(tmp)
        migrations = base / "migrations"
        migrations.mkdir()
        for m in schema.available():
            if upto is None or m.version <= upto:
                (migrations / m.path.name).write_bytes(m.path.read_bytes())
        server = PostgresServer(datadir=base / "pgdata", port=free_port(),
                                socket_dir=base / "sock", durable=False)
        server.start()
        try:
            server.create_database("release")
            # The fixture holds what the owner made; the superuser's extension (its
            # comment, which only the superuser may set again) stays out of the dump.
            with psycopg.connect(server.admin_conninfo("release"), autocommit=True) as admin:
                admin.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
            conninfo = server.conninfo("release")
            with psycopg.connect(conninfo, autocommit=True) as conn:
                schema.upgrade(conn, directory=migrations)
                demo.load(conn, now=DEMO_NOW, tz=DEMO_TZ)
            sql = dump(conninfo)
        finally:
            server.stop()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(sql, compresslevel=9, mtime=0))
    return out
