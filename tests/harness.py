"""Starting private servers for tests: free ports, temp directories, retried on a clash."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from stack.servers.base import ServerError

T = TypeVar("T")


def start_with_retry(make: Callable[[], T], attempts: int = 5) -> T:
    """Build a server on fresh free ports and start it; another harness may have taken
    the ports between our probe and the server's bind, so try again on new ones."""
    last: Exception | None = None
    for _ in range(attempts):
        server = make()
        try:
            server.start()  # type: ignore[attr-defined]
        except ServerError as exc:
            last = exc
            with contextlib.suppress(ServerError):
                server.stop()  # type: ignore[attr-defined]
            continue
        return server
    raise ServerError(f"could not start after {attempts} attempts: {last}")


def radius_db_fields(conninfo: str) -> dict[str, object]:
    """FreeRadiusServer's database fields for the test database ``conninfo`` names."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(conninfo)
    return {"db_host": params["host"], "db_port": int(params["port"]),
            "db_name": params["dbname"], "db_user": params["user"],
            "db_password": params.get("password", "")}
