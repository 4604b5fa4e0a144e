"""The audit log reads as a diff: for each field that changed, the label its form gives
it, what it was and what it became, in the operator's language; never Python's dict."""

from __future__ import annotations

import re

from tests.web.conftest import submit
from tests.web.test_labels_ru import visible_text

TARIFF = {"name": "Домашний", "access_type": "pppoe", "package_cost": "600.00",
          "suspension_cost": "0", "suspension_min_balance": "0", "active": "y"}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", visible_text(html))


def test_an_edit_reads_field_was_became_in_russian(as_admin, conn):
    submit(as_admin, "/tariffview/add", TARIFF)
    tariff = conn.execute("SELECT id FROM tariffs WHERE name = 'Домашний'").fetchone()[0]
    edited = {k: v for k, v in TARIFF.items() if k != "active"}  # unticked: no longer active
    submit(as_admin, f"/tariffview/edit/{tariff}", {**edited, "name": "Домашний 200",
                                                    "package_cost": "750.00"})
    as_admin.get("/lang/ru")
    entry = conn.execute("SELECT id FROM staff_audit_log WHERE action = 'edit' "
                         "AND object_type = 'tariffs'").fetchone()[0]
    for page in (as_admin.get("/auditlogview/list/"), as_admin.get(f"/auditlogview/show/{entry}")):
        text = _text(page.text)
        assert "Название: Домашний → Домашний 200" in text
        assert "Активен: Да → Нет" in text
        assert re.search(r"Стоимость пакета: 600[.,]00[^→]*→ 750[.,]00", text)
        assert "Тарифы" in text and "Изменение" in text  # the object and the action named
        assert "{" not in text and "True" not in text and "package_cost" not in text
    # A field that did not change is not listed.
    assert "Тип доступа:" not in _text(as_admin.get(f"/auditlogview/show/{entry}").text)


def test_an_addition_lists_what_the_object_became(as_admin, conn):
    submit(as_admin, "/tariffview/add", TARIFF)
    as_admin.get("/lang/ru")
    text = _text(as_admin.get("/auditlogview/list/").text)
    assert "Название: Домашний" in text and "→" not in text
    assert "Тип доступа: PPPoE" in text and "pppoe" not in text
    assert "Расчётный период: —" in text and "Settlement Period Id" not in text


def test_a_catalogue_reference_reads_as_its_name(as_admin, conn):
    """A tariff's pool changed (set through the form's relation, its column written only
    at the flush) is logged, and reads by the pools' names, not their ids."""
    pools = [conn.execute(
        "INSERT INTO ip_pools (name, kind, range_start, range_end) VALUES (%s, 'ipv4_vpn',"
        " %s::inet, %s::inet + 10) RETURNING id", (name, start, start)).fetchone()[0]
        for name, start in (("Пул Север", "10.77.0.0"), ("Пул Юг", "10.78.0.0"))]
    added = submit(as_admin, "/tariffview/add", {**TARIFF, "ip_pool": str(pools[0])})
    assert "has-error" not in added.text
    tariff = conn.execute("SELECT id FROM tariffs WHERE name = 'Домашний'").fetchone()[0]
    edited = submit(as_admin, f"/tariffview/edit/{tariff}", {**TARIFF, "ip_pool": str(pools[1])})
    assert "has-error" not in edited.text
    as_admin.get("/lang/ru")
    entry = conn.execute("SELECT id FROM staff_audit_log WHERE action = 'edit' "
                         "AND object_type = 'tariffs'").fetchone()[0]
    text = _text(as_admin.get(f"/auditlogview/show/{entry}").text)
    assert "Пул Север → Пул Юг" in text, text
    assert f"{pools[0]} → {pools[1]}" not in text
