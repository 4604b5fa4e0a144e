"""A change of traffic classes, IP pools, static addresses or NAS reaches the running
nfacctd: its plugins and maps are built from the database (``flow.collector_maps``)
and applied to the local collector (``NfacctdServer.apply``: nothing when nothing
changed, a SIGUSR2 when only the maps did, a restart when the plugins did; on an
installed system that restart is systemd's, asked for through ``ebs-nfacctd-restart.path``,
so nfacctd stays in its own unit).

The worker's ``ebs.flow_changed`` and ``ebs flow reload`` both come here, so there is one
way such a change is applied. No Celery here: the command runs it without a broker.
"""

from __future__ import annotations

from types import SimpleNamespace

from billing import settings as settings_mod
from billing.db import connect
from flow import collector_maps
from stack import systemd_requests
from stack.local import collector_server


def sync_collector(settings: SimpleNamespace) -> dict:
    """Build the collector's configuration and apply it; ``server: absent`` where this
    host runs no collector (never rendered under STATE_DIR)."""
    server = collector_server(settings)
    if not server.conf.exists():
        return {"server": "absent", "directory": str(server.directory)}
    with connect(settings_mod.database_conninfo(settings, component="worker")) as conn:
        config = collector_maps.build(conn, server.maps_dir,
                                      int(settings.FLOW_CACHE_ENTRIES_MAX))
    restart = None
    if settings.COLLECTOR_SERVICE:
        def restart() -> dict:
            path = systemd_requests.request(settings.STATE_DIR,
                                            systemd_requests.COLLECTOR_RESTART,
                                            "plugins changed")
            return {"server": "restart requested", "unit": settings.COLLECTOR_SERVICE,
                    "requested": str(path)}
    result = server.apply(config, restart=restart)
    return {**result, "plugins": [p.name for p in config.plugins]}
