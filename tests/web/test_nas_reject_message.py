"""The NAS form's "Reply-Message on reject": off for a NAS saved without touching it,
stored when ticked, and labelled in Russian; rlm_ebs reads it through ebs_radius_check
(tests/system/test_radius_reject_message.py)."""

from __future__ import annotations

from tests.web.conftest import submit
from tests.web.test_radius_admin import _nas_form


def test_the_flag_is_off_unless_ticked(as_admin, conn):
    submit(as_admin, "/nasview/add", _nas_form("a-secret-of-16-c"))
    submit(as_admin, "/nasview/add", {**_nas_form("a-secret-of-16-c"), "name": "hotspot",
                                      "ip_address": "192.0.2.43", "reject_reply_message": "y"})
    rows = conn.execute("SELECT name, reject_reply_message FROM nas ORDER BY name").fetchall()
    assert rows == [("edge-1", False), ("hotspot", True)]

def test_the_form_names_it_in_russian(as_admin):
    as_admin.get("/lang/ru")
    page = as_admin.get("/nasview/add").text
    assert "Reply-Message при отказе" in page
    assert "NAS показывает абоненту Reply-Message отказа во входе" in page
