"""NAS changes reach FreeRADIUS: ``ebs.nas_changed(nas_id)`` re-renders the clients from the
``nas`` table and restarts the local server when they differ from what it runs with
(``stack.nas_sync``, the procedure ``ebs up`` uses too).

The web app sends this task after a NAS edit commits; the beat also sends it every minute
without an id, so a lost message (a Redis restart, a worker killed between writing the
file and restarting) is made good within a minute. A duplicate delivery restarts nothing.
The server is the one ``ebs up`` runs under ``STATE_DIR``; on an installed system
(``RADIUS_SERVICE`` names Debian's unit) the worker, which may neither write FreeRADIUS's
files nor restart a service, asks systemd to: ``ebs-radius-clients.path`` runs the same
sync as root (``ebs radius sync-clients``), which restarts the unit.
"""

from __future__ import annotations

from billing import settings as settings_mod
from stack import nas_sync, radius_clients
from worker import arguments
from worker.app import celery


@celery.task(name="ebs.nas_changed")
def nas_changed(nas_id: int | None = None) -> dict:
    """Re-render the clients from the ``nas`` table and restart the local FreeRADIUS if
    they changed. ``nas_id`` names the edited NAS (for the record; every NAS is rendered);
    the beat sends it without one as a periodic check."""
    nas_id = arguments.integer_id(nas_id, "nas_id")
    settings = settings_mod.load()
    if settings.RADIUS_SERVICE:
        path = nas_sync.request_sync(settings.STATE_DIR, nas_id)
        return {"nas_id": nas_id, "server": settings.RADIUS_SERVICE, "requested": str(path)}
    result = nas_sync.sync_clients(
        settings_mod.database_conninfo(settings, component="worker"),
        radius_clients.local_server_dir(settings.STATE_DIR),
    )
    return {"nas_id": nas_id, **result}
