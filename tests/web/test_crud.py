"""CRUD through FAB's forms: create, list and search accounts and tariffs; field messages
for bad input."""

import re

from tests.web.conftest import submit


def _settlement_period(conn) -> int:
    return conn.execute(
        "INSERT INTO settlement_periods (name, unit, autostart) VALUES ('Month', 'MONTH', true) "
        "RETURNING id").fetchone()[0]


def test_create_list_and_search_a_tariff(as_admin, conn):
    period = _settlement_period(conn)
    page = submit(as_admin, "/tariffview/add", {
        "name": "Home 100", "description": "100 Mbit/s", "active": "y", "access_type": "pppoe",
        "settlement_period": str(period), "package_cost": "600.00",
        "suspension_cost": "0", "suspension_min_balance": "0",
    })
    assert page.status_code == 200
    row = conn.execute("SELECT package_cost, settlement_period_id FROM tariffs "
                       "WHERE name = 'Home 100'").fetchone()
    assert row == (600, period)
    listing = as_admin.get("/tariffview/list/")
    assert "Home 100" in listing.text
    found = as_admin.get("/tariffview/list/?_flt_0_name=home")
    assert "Home 100" in found.text
    assert "Home 100" not in as_admin.get("/tariffview/list/?_flt_0_name=night").text


def test_tariff_form_refuses_a_negative_cost(as_admin, conn):
    page = submit(as_admin, "/tariffview/add", {
        "name": "Broken", "access_type": "pppoe", "package_cost": "-5",
        "suspension_cost": "0", "suspension_min_balance": "0",
    })
    assert "The amount cannot be negative." in page.text
    assert conn.execute("SELECT count(*) FROM tariffs").fetchone()[0] == 0


def test_speed_syntax_is_checked_by_billing_speeds(as_admin, conn):
    tariff = conn.execute("INSERT INTO tariffs (name) VALUES ('T') RETURNING id").fetchone()[0]
    bad = submit(as_admin, "/tariffspeedview/add", {"tariff": str(tariff), "speed": "fast"})
    assert "Not a valid speed" in bad.text
    good = submit(as_admin, "/tariffspeedview/add", {"tariff": str(tariff), "speed": "10M/20M"})
    assert good.status_code == 200
    assert conn.execute("SELECT speed FROM tariff_speeds").fetchall() == [("10M/20M",)]


def test_ip_pools_validate_ranges_and_overlaps(as_admin, conn):
    base = {"name": "Main", "kind": "ipv4_vpn"}
    page = submit(as_admin, "/ippoolview/add",
                  {**base, "range_start": "10.0.0.1", "range_end": "10.0.0.300"})
    assert "Not an IP address: 10.0.0.300" in page.text
    page = submit(as_admin, "/ippoolview/add",
                  {**base, "range_start": "10.0.0.9", "range_end": "10.0.0.1"})
    assert "The range ends before it starts." in page.text
    submit(as_admin, "/ippoolview/add",
           {**base, "range_start": "10.0.0.1", "range_end": "10.0.0.100"})
    page = submit(as_admin, "/ippoolview/add",
                  {"name": "Second", "kind": "ipv4_vpn", "range_start": "10.0.0.50",
                   "range_end": "10.0.0.200"})
    assert "Overlaps pool Main (10.0.0.1 – 10.0.0.100)." in page.text
    assert conn.execute("SELECT name FROM ip_pools").fetchall() == [("Main",)]
    occupancy = as_admin.get("/ip-pools/occupancy/")
    assert re.search(r'data-pool="Main".*?>100<', occupancy.text, re.S)


def test_create_list_and_search_an_account(as_admin, conn):
    page = submit(as_admin, "/accountview/add", {
        "contract": "20001", "login": "newbie", "cabinet_password": "Secret-123",
        "full_name": "Новиков Пётр", "phone": "+79160000001", "street": "ул. Мира",
        "house": "1", "status": "active", "credit": "0",
    })
    assert page.status_code == 200
    row = conn.execute("SELECT login, balance, password_hash <> '' FROM accounts "
                       "WHERE contract = '20001'").fetchone()
    assert row == ("newbie", 0, True)
    assert "20001" in as_admin.get("/accountview/list/").text
    assert "20001" in as_admin.get("/accountview/list/?_flt_0_contract=20001").text
    assert "20001" not in as_admin.get("/accountview/list/?_flt_0_contract=2000").text
    assert "20001" in as_admin.get("/accountview/list/?_flt_0_full_name=новиков").text
    assert "20001" in as_admin.get("/accountview/list/?_flt_0_phone=%2B79160000001").text


def test_account_form_messages(as_admin, conn):
    page = submit(as_admin, "/accountview/add", {
        "contract": "", "login": "x", "cabinet_password": "Secret-123", "status": "active",
        "credit": "-1",
    })
    assert "This field is required." in page.text
    assert "The amount cannot be negative." in page.text
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0


def test_subaccount_with_network_password_and_static_ip(as_admin, conn):
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('1', 'a') "
                           "RETURNING id").fetchone()[0]
    bad = submit(as_admin, "/subaccountview/add", {
        "account": str(account), "username": "a-ppp", "password": "net-pass",
        "ip_address": "10.1.1", "simultaneous_use": "1"})
    assert "Not an IP address: 10.1.1" in bad.text
    submit(as_admin, "/subaccountview/add", {
        "account": str(account), "username": "a-ppp", "password": "net-pass",
        "ip_address": "10.1.1.5", "mac_address": "", "simultaneous_use": "1"})
    row = conn.execute("SELECT host(ip_address), mac_address, nt_password_hash IS NOT NULL "
                       "FROM subaccounts").fetchone()
    assert row == ("10.1.1.5", None, True)


def test_time_period_with_a_node(as_admin, conn):
    submit(as_admin, "/timeperiodview/add", {"name": "Night"})
    period = conn.execute("SELECT id FROM time_periods WHERE name = 'Night'").fetchone()[0]
    node = {"time_period": str(period), "name": "night", "starts_at": "2026-01-01 22:00:00",
            "repeat": "DAY"}
    bad = submit(as_admin, "/timeperiodnodeview/add", {**node, "length": "six hours"})
    assert "Give the length as HH:MM or as N d HH:MM." in bad.text
    submit(as_admin, "/timeperiodnodeview/add", {**node, "length": "6:00"})
    row = conn.execute("SELECT length, repeat FROM time_period_nodes").fetchone()
    assert str(row[0]) == "6:00:00" and row[1] == "DAY"


def test_changes_land_in_the_audit_log(as_admin, conn, staff):
    submit(as_admin, "/tariffview/add", {
        "name": "Audited", "access_type": "pppoe", "package_cost": "600.00",
        "suspension_cost": "0", "suspension_min_balance": "0"})
    tariff = conn.execute("SELECT id FROM tariffs WHERE name = 'Audited'").fetchone()[0]
    submit(as_admin, f"/tariffview/edit/{tariff}", {
        "name": "Audited", "access_type": "pppoe", "package_cost": "700.00",
        "suspension_cost": "0", "suspension_min_balance": "0"})
    submit(as_admin, "/nasview/add", {
        "name": "nas1", "vendor": "cisco", "ip_address": "192.0.2.1",
        "secret": "s3cret-nas-for-tests"})
    rows = conn.execute(
        "SELECT action, object_type, object_id, old_values, new_values, staff_user_id "
        "FROM staff_audit_log ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("add", "tariffs"), ("edit", "tariffs"),
                                            ("add", "nas")]
    assert rows[0][2] == str(tariff) and rows[0][4]["name"] == "Audited"
    assert rows[1][3] == {"package_cost": "600.00"} and rows[1][4] == {"package_cost": "700.00"}
    assert rows[2][4]["secret"] == "***" and rows[2][4]["coa_port"] == 1700  # vendor preset
    assert {r[5] for r in rows} == {staff["admin"]}
    assert "Audited" in as_admin.get("/auditlogview/list/").text
