"""The tables that had no admin view: tariff-change rules, promised-payment settings,
custom RADIUS reply attributes, switches and ports (edited here), and CoA requests (read
only: history). Each list renders and a form creates a row; the database's refusals are
field messages first."""

from __future__ import annotations

from tests.web.conftest import ADMIN, login, submit


def _tariff(conn, name: str) -> int:
    return conn.execute("INSERT INTO tariffs (name) VALUES (%s) RETURNING id",
                        (name,)).fetchone()[0]


def test_tariff_change_rule_from_the_form(as_admin, conn):
    home, turbo = _tariff(conn, "Home"), _tariff(conn, "Turbo")
    same = submit(as_admin, "/tariffchangeruleview/add", {
        "from_tariff": str(home), "to_tariff": str(home), "allowed": "y", "cost": "0",
        "min_balance": "0", "min_time_on_tariff": "0:00", "effective": "NOW"})
    assert "A change goes to another tariff." in same.text
    submit(as_admin, "/tariffchangeruleview/add", {
        "from_tariff": str(home), "to_tariff": str(turbo), "allowed": "y", "cost": "50.00",
        "min_balance": "100", "min_time_on_tariff": "30 d 00:00", "effective": "NEXT_PERIOD"})
    row = conn.execute("SELECT from_tariff_id, to_tariff_id, cost, min_time_on_tariff::text,"
                       " effective FROM tariff_change_rules").fetchone()
    assert row == (home, turbo, 50, "30 days", "NEXT_PERIOD")
    listing = as_admin.get("/tariffchangeruleview/list/")
    assert "Turbo" in listing.text and "50.00" in listing.text


def test_promise_settings_from_the_form(as_admin, conn):
    home = _tariff(conn, "Home")
    bad = submit(as_admin, "/promisesettingsview/add", {
        "tariff": str(home), "allowed": "y", "max_sum": "-1", "min_balance": "0",
        "days": "0", "cooldown_days": "0"})
    assert "The amount cannot be negative." in bad.text
    submit(as_admin, "/promisesettingsview/add", {
        "tariff": str(home), "allowed": "y", "max_sum": "300", "min_balance": "-100",
        "days": "5", "cooldown_days": "10"})
    assert conn.execute("SELECT tariff_id, max_sum, days, cooldown_days FROM promise_settings"
                        ).fetchone() == (home, 300, 5, 10)
    assert "300.00" in as_admin.get("/promisesettingsview/list/").text


def test_reply_attribute_from_the_form(as_admin, conn):
    home = _tariff(conn, "Home")
    bad = submit(as_admin, "/radiusreplyattributeview/add", {
        "tariff": str(home), "attribute": "Bad Name", "op": "+=", "value": "x",
        "applies_when": "accept"})
    assert "An attribute name of the dictionary" in bad.text
    submit(as_admin, "/radiusreplyattributeview/add", {
        "tariff": str(home), "attribute": "Mikrotik-Address-List", "op": "=",
        "value": "paid", "applies_when": "guest", "description": "guests"})
    assert conn.execute("SELECT tariff_id, nas_id, attribute, op, value, applies_when"
                        " FROM radius_reply_attributes").fetchone() == (
        home, None, "Mikrotik-Address-List", "=", "paid", "guest")
    assert "Mikrotik-Address-List" in as_admin.get("/radiusreplyattributeview/list/").text


def test_switch_and_port_from_the_forms(as_admin, conn):
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('1', 'a')"
                           " RETURNING id").fetchone()[0]
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, 'ipoe-1')"
                       " RETURNING id", (account,)).fetchone()[0]
    submit(as_admin, "/switchview/add", {"name": "sw-1", "remote_id": "aa:bb:cc:dd:ee:01"})
    switch = conn.execute("SELECT id FROM switches WHERE name = 'sw-1'").fetchone()[0]
    submit(as_admin, "/subaccountswitchportview/add",
           {"subaccount": str(sub), "switch": str(switch), "port": "7"})
    assert conn.execute("SELECT subaccount_id, switch_id, port FROM subaccount_switch_ports"
                        ).fetchone() == (sub, switch, 7)
    bad = submit(as_admin, "/subaccountswitchportview/add",
                 {"subaccount": str(sub), "switch": str(switch), "port": "70000"})
    assert "Number must be between 0 and 65535." in bad.text
    assert "aa:bb:cc:dd:ee:01" in as_admin.get("/switchview/list/").text
    ports = as_admin.get("/subaccountswitchportview/list/")
    assert "ipoe-1" in ports.text and "sw-1" in ports.text


def test_coa_requests_are_read_only_history(as_admin, conn):
    conn.execute("INSERT INTO coa_requests (acct_unique_id, desired_state, kind, state, result,"
                 " finished_at) VALUES ('sess-1', 'speed:10M/10M', 'coa', 'done', 'ACK', now())")
    listing = as_admin.get("/coarequestview/list/")
    # The desired state and the result read as words (webapp.labels), not as stored.
    assert listing.status_code == 200 and "Speed 10M/10M" in listing.text
    assert "Accepted by the NAS" in listing.text and "speed:10M" not in listing.text
    assert as_admin.get("/coarequestview/add").status_code == 403
    row = conn.execute("SELECT id FROM coa_requests").fetchone()[0]
    assert as_admin.get(f"/coarequestview/edit/{row}").status_code == 403
    assert as_admin.get("/statushistoryview/add").status_code == 403
    assert as_admin.get("/suspensionview/add").status_code == 403
    assert as_admin.get("/promisedpaymentview/add").status_code == 403


def test_new_views_speak_russian(web_settings, staff, conn):
    from webapp.app import create_app

    web_settings.LANGUAGE_CODE = "ru"
    client = create_app(web_settings, TESTING=True, FAB_UPDATE_PERMS=False).test_client()
    login(client, *ADMIN)
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('1', 'a')"
                           " RETURNING id").fetchone()[0]
    menu = client.get("/tariffchangeruleview/list/").text
    for label in ("Правила смены тарифа", "Настройки обещанного платежа", "Коммутаторы",
                  "Атрибуты ответа RADIUS", "Приостановки", "Обещанные платежи",
                  "Запросы CoA", "История статусов"):
        assert label in menu, label
    show = client.get(f"/accountview/show/{account}").text
    assert "Изменить статус" in show and "Приостановить" in show
    page = client.get(f"/account-actions/{account}/tariff").text
    assert "Не внутри уже списанного времени." in page


def _rows_for_every_new_list(conn, n: int, offset: int) -> None:
    """n rows in each table the new lists show, each with the relations the list names."""
    for i in range(offset, offset + n):
        a, b = _tariff(conn, f"A{i}"), _tariff(conn, f"B{i}")
        nas = conn.execute("INSERT INTO nas (name, ip_address, secret) VALUES (%s, %s,"
                           " 'secret-1-for-tests') RETURNING id", (f"n{i}", f"192.0.2.{i + 1}")
                           ).fetchone()[0]
        account = conn.execute("INSERT INTO accounts (contract, login) VALUES (%s, %s)"
                               " RETURNING id", (f"c{i}", f"l{i}")).fetchone()[0]
        sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, %s)"
                           " RETURNING id", (account, f"s{i}")).fetchone()[0]
        switch = conn.execute("INSERT INTO switches (name, remote_id) VALUES (%s, %s)"
                              " RETURNING id", (f"sw{i}", f"r{i}")).fetchone()[0]
        conn.execute("INSERT INTO subaccount_switch_ports VALUES (%s, %s, 1)", (sub, switch))
        conn.execute("INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id)"
                     " VALUES (%s, %s)", (a, b))
        conn.execute("INSERT INTO promise_settings (tariff_id, max_sum, days)"
                     " VALUES (%s, 100, 3)", (a,))
        conn.execute("INSERT INTO radius_reply_attributes (tariff_id, nas_id, attribute, value)"
                     " VALUES (%s, %s, 'Session-Timeout', '60')", (a, nas))
        conn.execute("INSERT INTO account_suspensions (account_id, tariff_id, starts_at,"
                     " requested_by) VALUES (%s, %s, now(), 'staff')", (account, a))
        conn.execute("INSERT INTO promised_payments (account_id, amount, taken_at, expires_at)"
                     " VALUES (%s, 10, now(), now() + interval '1 day')", (account,))
        conn.execute("UPDATE accounts SET status = 'inactive_charged' WHERE id = %s",
                     (account,))  # a status history row, by the database's trigger
        conn.execute("INSERT INTO coa_requests (acct_unique_id, desired_state, kind,"
                     " account_id, nas_id) VALUES (%s, 'disconnected', 'disconnect', %s, %s)",
                     (f"u{i}", account, nas))


NEW_LISTS = ["/tariffchangeruleview/list/", "/promisesettingsview/list/",
             "/radiusreplyattributeview/list/", "/switchview/list/",
             "/subaccountswitchportview/list/", "/suspensionview/list/",
             "/promisedpaymentview/list/", "/statushistoryview/list/", "/coarequestview/list/"]


def test_new_lists_run_as_many_queries_for_2_rows_as_for_20(as_admin, conn, count_queries):
    _rows_for_every_new_list(conn, 2, 0)
    counter = count_queries()
    small = {}
    for url in NEW_LISTS:
        with counter as seen:
            assert as_admin.get(url).status_code == 200
        small[url] = seen.count
        seen.statements.clear()
    _rows_for_every_new_list(conn, 18, 2)
    for url in NEW_LISTS:
        with counter as seen:
            page = as_admin.get(url)
        assert page.status_code == 200
        assert seen.count == small[url], f"{url}: {small[url]} queries with 2 rows, " \
                                         f"{seen.count} with 20"
        seen.statements.clear()
