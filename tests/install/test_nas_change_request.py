"""On an installed system (RADIUS_SERVICE names a unit) the worker's ebs.nas_changed does
not touch FreeRADIUS, whose files and service its account may not change: it writes the
request ebs-radius-clients.path watches, a whole new file each time (PathChanged= fires
on it), and says so in its result. The units watch the files the worker writes, nfacctd's
restart for new plugins too (COLLECTOR_SERVICE)."""

from __future__ import annotations

from stack import systemd_requests
from stack.install.units import units


def test_the_worker_asks_systemd_through_the_path_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("EBS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("EBS_RADIUS_SERVICE", "freeradius.service")
    (tmp_path / "run").mkdir()
    from worker.nas_tasks import nas_changed

    first = nas_changed.run(7)
    request = systemd_requests.request_path(tmp_path, systemd_requests.RADIUS_CLIENTS)
    assert first == {"nas_id": 7, "server": "freeradius.service", "requested": str(request)}
    assert request.read_text().startswith("nas 7 at ")
    inode = request.stat().st_ino
    nas_changed.run(None)
    assert request.read_text().startswith("nas - at ")
    assert request.stat().st_ino != inode  # replaced, not edited in place
    assert not request.with_name(request.name + ".new").exists()


def test_the_path_unit_watches_the_file_the_worker_writes(tmp_path, monkeypatch):
    from billing import settings as settings_mod

    monkeypatch.setenv("EBS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("EBS_COLLECTOR_SERVICE", "ebs-nfacctd.service")
    settings = settings_mod.load()
    found = {u.name: u for u in units(settings)}
    path_unit = found["ebs-radius-clients.path"].text
    assert f"PathChanged={tmp_path}/run/radius-clients.request" in path_unit
    sync = found["ebs-radius-clients.service"]
    assert "Type=oneshot" in sync.text and "User=root" in sync.text
    assert sync.text.rstrip().endswith("SyslogIdentifier=ebs-radius-clients")
    assert "radius sync-clients" in sync.text and not sync.start

    restart = found["ebs-nfacctd-restart.service"].text
    assert "\nExecStart=/bin/systemctl restart ebs-nfacctd.service\n" in restart
    assert "User=root" in restart and not found["ebs-nfacctd-restart.service"].start
    assert (f"PathChanged={tmp_path}/run/nfacctd-restart.request"
            in found["ebs-nfacctd-restart.path"].text)
