"""The account card: the summary at the top, every action through its button landing in
the ledger, the status or the worker's queue, tabs holding this account's rows only, and
pickers that search as the operator types instead of listing every account."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from tests.web.conftest import CASHIER, csrf_token, login, submit
from tests.web.test_account_actions import NOW, _account, _assign, _tariff
from tests.web.test_operations import broker, queued, web_settings  # noqa: F401

_CONFIRMATION = re.compile(r'name="confirmation"[^>]*value="([^"]*)"')
_NONCE = re.compile(r'name="nonce"[^>]*value="([^"]*)"')


def _actions(page_text: str) -> dict[str, str]:
    """The card's buttons: action name -> the form it opens."""
    return dict(re.findall(r'data-action="(\w+)" href="([^"]+)"', page_text))


def _balance(conn, account: int) -> Decimal:
    return conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)).fetchone()[0]


def _entries(conn, account: int) -> list[tuple]:
    return conn.execute("SELECT kind, amount, staff_user_id FROM ledger_entries"
                        " WHERE account_id = %s ORDER BY id", (account,)).fetchall()


def _card(client, account: int):
    page = client.get(f"/accountview/show/{account}")
    assert page.status_code == 200
    return page


def _summary(page_text: str) -> str:
    return page_text.split('id="ebs-card-summary"', 1)[1].split('id="ebs-account-actions"')[0]


def _form_data(client, url: str, data: dict) -> dict:
    """``data`` with the form page's CSRF token and nonce (a payment's idempotency key)."""
    page = client.get(url)
    assert page.status_code == 200, url
    found = _NONCE.search(page.text)
    return {**data, "csrf_token": csrf_token(page.text),
            **({"nonce": found.group(1)} if found else {})}


def test_the_summary_shows_tariff_balance_credit_status_and_blocks(as_admin, conn):
    account = _account(conn, "81001", balance="120.50")
    _assign(conn, account, _tariff(conn, "Домашний"), NOW - timedelta(days=2))
    conn.execute("UPDATE accounts SET credit = 50, blocked_by_limit = true WHERE id = %s",
                 (account,))
    summary = _summary(_card(as_admin, account).text)
    assert 'id="ebs-card-tariff">Домашний<' in summary
    assert 'data-balance="120.50"' in summary and 'data-credit="50.00"' in summary
    assert 'data-available="170.50"' in summary
    assert 'data-status="active"' in summary
    assert 'data-block="limit"' in summary and 'data-block="balance"' not in summary
    assert "+00:00" not in summary  # the tariff's start on the ISP's clock, not UTC's
    actions = _actions(_card(as_admin, account).text)
    assert {"pay", "correct", "tariff", "suspend", "promised_payment", "transfer",
            "disconnect", "status", "password"} <= set(actions)
    assert "resume" not in actions  # only a suspended account is resumed


def test_pay_through_the_card_lands_in_the_ledger_and_the_audit(as_admin, conn, staff):
    account = _account(conn, "81002")
    url = _actions(_card(as_admin, account).text)["pay"]
    page = as_admin.post(url, data=_form_data(as_admin, url, {"amount": "750",
                                                            "description": "наличные"}),
                         follow_redirects=True)
    assert "Posted 750.00\xa0RUB to the balance." in page.text
    assert 'data-balance="750.00"' in _summary(page.text)  # back on the card
    assert _entries(conn, account) == [("payment", Decimal("750.00"), staff["admin"])]
    logged = conn.execute("SELECT action, object_id, new_values->>'amount' FROM"
                          " staff_audit_log").fetchall()
    assert logged == [("payment", str(account), "750.00")]


def test_a_large_payment_is_confirmed_first_and_the_maximum_refused(
        as_admin, conn, web_settings):  # noqa: F811
    account = _account(conn, "81003")
    url = f"/account-card/{account}/pay"
    form = _form_data(as_admin, url, {"amount": "15000.00"})
    asked = as_admin.post(url, data=form)
    assert "ebs-confirm-prompt" in asked.text and _entries(conn, account) == []
    token = _CONFIRMATION.search(asked.text).group(1)
    assert token
    edited = as_admin.post(url, data={**form, "amount": "16000.00", "confirmation": token})
    assert "ebs-confirm-prompt" in edited.text and _entries(conn, account) == []
    done = as_admin.post(url, data={**form, "confirmation": token})
    assert done.status_code == 302
    again = as_admin.post(url, data={**form, "confirmation": token})  # a double click
    assert again.status_code == 302
    assert _balance(conn, account) == Decimal("15000.00")
    over = as_admin.post(url, data=_form_data(as_admin, url, {"amount": "100000.01"}))
    assert "The amount is above the maximum of one payment, 100,000.00\xa0RUB." in over.text
    assert _balance(conn, account) == Decimal("15000.00")


def test_correction_takes_money_off_with_its_reason(as_admin, conn, staff):
    account = _account(conn, "81004", balance="100.00")
    url = _actions(_card(as_admin, account).text)["correct"]
    no_reason = as_admin.post(url, data=_form_data(as_admin, url, {"amount": "-30.00"}))
    assert "Give the reason." in no_reason.text
    as_admin.post(url, data=_form_data(as_admin, url, {"amount": "-30.00",
                                                      "description": "double charge"}))
    assert _balance(conn, account) == Decimal("70.00")
    assert conn.execute("SELECT kind, amount, description FROM ledger_entries"
                        " WHERE account_id = %s AND kind = 'correction'",
                        (account,)).fetchall() == [
        ("correction", Decimal("-30.00"), "double charge")]


def test_transfer_moves_money_to_the_picked_account(as_admin, conn, staff):
    sender = _account(conn, "81005", balance="100.00")
    receiver = _account(conn, "81006")
    _assign(conn, sender, _tariff(conn, "Переводы", allow_balance_transfer=True),
            NOW - timedelta(days=2))
    url = _actions(_card(as_admin, sender).text)["transfer"]
    too_much = as_admin.post(url, data=_form_data(
        as_admin, url, {"to_account": str(receiver), "amount": "100.01"}))
    assert "The amount is more than the balance." in too_much.text
    page = as_admin.post(url, data=_form_data(
        as_admin, url, {"to_account": str(receiver), "amount": "40.00"}),
        follow_redirects=True)
    assert "Transferred 40.00\xa0RUB to contract 81006." in page.text
    assert (_balance(conn, sender), _balance(conn, receiver)) == (
        Decimal("60.00"), Decimal("40.00"))
    assert _entries(conn, receiver) == [("transfer", Decimal("40.00"), staff["admin"])]
    assert conn.execute("SELECT count(*) FROM staff_audit_log WHERE action = 'transfer'"
                        " AND object_id = %s", (str(sender),)).fetchone()[0] == 1


def test_transfer_refused_by_the_tariff_moves_nothing(as_admin, conn):
    sender = _account(conn, "81007", balance="100.00")
    receiver = _account(conn, "81008")
    _assign(conn, sender, _tariff(conn, "Без переводов"), NOW - timedelta(days=2))
    url = f"/account-card/{sender}/transfer"
    page = as_admin.post(url, data=_form_data(
        as_admin, url, {"to_account": str(receiver), "amount": "10.00"}))
    assert "The tariff does not allow this." in page.text
    assert _balance(conn, receiver) == 0
    unknown = as_admin.post(url, data=_form_data(
        as_admin, url, {"to_account": "999999", "amount": "10.00"}))
    assert "Choose one of the matches offered." in unknown.text


def test_disconnect_asks_the_worker_for_each_session_of_the_account(as_admin, conn, broker):  # noqa: F811
    account = _account(conn, "81009")
    other = _account(conn, "81010")
    for session, owner in (("s-a1", account), ("s-a2", account), ("s-b1", other)):
        conn.execute(
            "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, nas_ip,"
            " username, started_at, updated_at) VALUES (%s, %s, %s, '10.9.0.1', %s, now(),"
            " now())", (session, session, owner, session))
    url = _actions(_card(as_admin, account).text)["disconnect"]
    assert "s-a1" in as_admin.get(url).text and "s-b1" not in as_admin.get(url).text
    page = as_admin.post(url, data=_form_data(as_admin, url, {}), follow_redirects=True)
    assert "Disconnect requested for 2 session(s)." in page.text
    assert sorted(queued(broker)) == [("ebs.kick_session", ["s-a1"]),
                                      ("ebs.kick_session", ["s-a2"])]
    assert conn.execute("SELECT new_values->'sessions' FROM staff_audit_log"
                        " WHERE action = 'kick'").fetchone()[0] == ["s-a1", "s-a2"]


def test_the_state_actions_work_from_the_card_buttons(as_admin, conn):
    tariff = _tariff(conn, "Приостановка", allow_self_suspension=True, suspension_max_days=30)
    account = _account(conn, "81011", balance="100.00")
    _assign(conn, account, tariff, NOW - timedelta(days=3))
    status = lambda: conn.execute("SELECT status FROM accounts WHERE id = %s",  # noqa: E731
                                  (account,)).fetchone()[0]
    submit(as_admin, _actions(_card(as_admin, account).text)["suspend"], {"days": "3"})
    assert status() == "suspended"
    card = _card(as_admin, account).text
    assert 'data-block="suspended"' in _summary(card) and "suspend" not in _actions(card)
    submit(as_admin, _actions(card)["resume"], {"reason": "back"})
    assert status() == "active"
    submit(as_admin, _actions(_card(as_admin, account).text)["status"],
           {"status": "inactive_charged", "reason": "moved"})
    assert status() == "inactive_charged"
    assert 'data-status="inactive_charged"' in _summary(_card(as_admin, account).text)


def test_a_cashier_sees_the_card_without_the_admin_actions(client, conn):
    account = _account(conn, "81012")
    login(client, *CASHIER)
    card = _card(client, account)
    assert 'id="ebs-card-summary"' in card.text and _actions(card.text) == {}
    assert client.get(f"/account-card/{account}/pay").status_code in (302, 403)
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def _history_of(conn, account: int, marker: str) -> None:
    """One row of every kind the card's tabs show, each carrying ``marker``."""
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, %s)"
                       " RETURNING id", (account, f"{marker}-login")).fetchone()[0]
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, account_id, subaccount_id,"
        " nas_ip, username, started_at, updated_at, calling_station_id) VALUES"
        " (%s, 'x', %s, %s, '10.9.0.1', %s, now(), now(), %s)",
        (f"{marker}-open", account, sub, f"{marker}-login", f"{marker}-online"))
    conn.execute(
        "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " username, started_at, stopped_at, calling_station_id) VALUES"
        " (%s, 'x', %s, '10.9.0.1', %s, now() - interval '2 hours', now() - interval '1 hour',"
        " %s)", (f"{marker}-past", account, f"{marker}-login", f"{marker}-pastcall"))
    conn.execute(
        "INSERT INTO auth_log (logged_at, username, nas_ip, calling_station_id, reason,"
        " accepted) VALUES (now(), %s, '10.9.0.1', %s, 'ok', true)",
        (f"{marker}-login", f"{marker}-authcall"))
    pool = conn.execute(
        "INSERT INTO ip_pools (name, range_start, range_end) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        ("card-pool", "100.70.0.1", "100.70.0.100")).fetchone()[0]
    conn.execute(
        "INSERT INTO ip_leases (pool_id, address, state, subaccount_id, session_key,"
        " expires_at) VALUES (%s, %s, 'active', %s, %s, now() + interval '1 hour')",
        (pool, "100.70.0.1" if marker == "alpha" else "100.70.0.2", sub, f"{marker}-lease"))
    conn.execute("UPDATE accounts SET status = 'inactive_uncharged' WHERE id = %s", (account,))
    conn.execute(
        "INSERT INTO staff_audit_log (action, object_type, object_id, new_values)"
        " VALUES ('edit', 'accounts', %s, %s)", (str(account), f'{{"note": "{marker}-audit"}}'))


def test_tabs_show_this_accounts_rows_only(as_admin, conn):
    alpha, beta = _account(conn, "81013"), _account(conn, "81014")
    _history_of(conn, alpha, "alpha")
    _history_of(conn, beta, "beta")
    card = _card(as_admin, alpha).text
    for tab in ("AccountOnlineTab", "AccountSessionHistoryTab", "AccountAuthLogTab",
                "AccountLeaseTab", "AccountStatusTab", "AccountAuditTab",
                "AccountLedgerView"):
        assert f'href="#{tab}"' in card, tab
    for what in ("online", "pastcall", "authcall", "audit"):
        assert f"alpha-{what}" in card, what
        assert f"beta-{what}" not in card, what
    assert "100.70.0.1" in card and "100.70.0.2" not in card
    status_tab = card.split('id="AccountStatusTab"', 1)[1].split('<div id="', 1)[0]
    assert "Inactive, not charged" in status_tab  # the status by its label, not its code


def test_tabs_are_paginated(as_admin, conn):
    account = _account(conn, "81015")
    conn.execute(
        "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " username, started_at, stopped_at, calling_station_id)"
        " SELECT 'p' || g, 'x', %s, '10.9.0.1', 'pager', now() - g * interval '1 hour',"
        " now() - g * interval '1 hour' + interval '1 minute', 'call-' || g"
        " FROM generate_series(1, 30) g", (account,))
    first = _card(as_admin, account).text
    assert "call-1<" in first and "call-25<" in first and "call-26<" not in first
    second = as_admin.get(f"/accountview/show/{account}?page_AccountSessionHistoryTab=1").text
    assert "call-26<" in second and "call-30<" in second


def test_past_sessions_list_in_operations_newest_stop_first(as_admin, conn):
    account = _account(conn, "81016")
    conn.execute(
        "INSERT INTO sessions_history (acct_unique_id, acct_session_id, account_id, nas_ip,"
        " username, started_at, stopped_at, terminate_cause) VALUES"
        " ('old', 'x', %s, '10.9.0.1', 'u-old', now() - interval '3 days',"
        "  now() - interval '2 days', 'User-Request'),"
        " ('new', 'x', %s, '10.9.0.1', 'u-new', now() - interval '2 hours',"
        "  now() - interval '1 hour', 'Lost-Carrier')", (account, account))
    listing = as_admin.get("/sessionhistoryview/list/").text
    assert listing.index("u-new") < listing.index("u-old")
    assert "Carrier lost" in listing and "Past sessions" in listing
    by_login = as_admin.get("/sessionhistoryview/list/?_flt_0_username=u-old").text
    assert "u-old" in by_login and "u-new" not in by_login


def test_indexes_serve_the_tabs_and_the_subaccount_picker(conn):
    """With sequential scans and sorts priced out (an empty table would otherwise be read
    whole), each plan still walks an index in order: there is one that serves it at any
    size; without it a Seq Scan or a Sort would remain."""
    for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
        conn.execute(f"SET {setting} = off")
    plans = {
        "all": "SELECT * FROM sessions_history ORDER BY stopped_at DESC LIMIT 25",
        "login": "SELECT * FROM sessions_history WHERE username = 'u'"
                 " ORDER BY stopped_at DESC LIMIT 25",
        "account": "SELECT * FROM sessions_history WHERE account_id = 1"
                   " ORDER BY stopped_at DESC LIMIT 25",
        "username": "SELECT id FROM subaccounts WHERE username LIKE 'abc%' LIMIT 20",
        "auth log": "SELECT * FROM auth_log WHERE username IN ('u')"
                    " ORDER BY logged_at DESC LIMIT 25",
        "status": "SELECT * FROM account_status_history WHERE account_id = 1"
                  " ORDER BY changed_at DESC LIMIT 25",
        "audit": "SELECT * FROM staff_audit_log WHERE object_type = 'accounts'"
                 " AND object_id = '1' ORDER BY logged_at DESC LIMIT 25",
    }
    for name, query in plans.items():
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query).fetchall())
        assert "Seq Scan" not in plan and "->  Sort" not in plan, (name, plan)


def _people(conn, count: int) -> None:
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house)"
        " SELECT '5500' || lpad(g::text, 3, '0'), 'pick' || g, 'Пикеров Иван ' || g,"
        " '+7 916 555-' || lpad(g::text, 4, '0'), 'ул. Садовая', g::text"
        " FROM generate_series(1, %s) g", (count,))


def test_picker_finds_by_contract_prefix_phone_and_name_at_most_twenty(as_admin, conn):
    _people(conn, 30)
    by_prefix = as_admin.get("/pick/accounts?q=5500").json["results"]
    assert len(by_prefix) == 20
    assert by_prefix[0]["text"].startswith("5500001 — Пикеров Иван 1")
    by_phone = as_admin.get("/pick/accounts?q=8 916 555 00 07").json["results"]
    assert [r["text"].split(" ")[0] for r in by_phone] == ["5500007"]
    by_name = as_admin.get("/pick/accounts?q=керов Иван 12").json["results"]
    assert [r["text"].split(" ")[0] for r in by_name] == ["5500012"]
    assert as_admin.get("/pick/accounts?q=").json["results"] == []


def test_subaccount_picker_by_login_prefix_and_by_its_account(as_admin, conn):
    _people(conn, 3)
    conn.execute("INSERT INTO subaccounts (account_id, username) SELECT id, 'ppp-' || login"
                 " FROM accounts WHERE contract LIKE '5500%'")
    by_login = as_admin.get("/pick/subaccounts?q=ppp-pick2").json["results"]
    assert [r["text"].split(" ")[0] for r in by_login] == ["ppp-pick2"]
    by_contract = as_admin.get("/pick/subaccounts?q=5500003").json["results"]
    assert [r["text"].split(" ")[0] for r in by_contract] == ["ppp-pick3"]


def test_picker_needs_a_login(client, conn):
    _people(conn, 1)
    assert client.get("/pick/accounts?q=5500").status_code in (401, 403)


def test_subaccount_form_lists_no_accounts_and_saves_the_picked_one(as_admin, conn):
    _people(conn, 40)
    form = as_admin.get("/subaccountview/add")
    assert form.status_code == 200
    assert "Пикеров" not in form.text and "5500" not in form.text
    assert 'class="form-control ebs-picker"' in form.text
    chosen = conn.execute("SELECT id FROM accounts WHERE contract = '5500017'").fetchone()[0]
    submit(as_admin, "/subaccountview/add", {"account": str(chosen), "username": "picked-1",
                                             "simultaneous_use": "1"})
    row = conn.execute("SELECT id, account_id FROM subaccounts WHERE username = 'picked-1'"
                       ).fetchone()
    assert row is not None and row[1] == chosen
    edit = as_admin.get(f"/subaccountview/edit/{row[0]}").text
    assert "5500017 — Пикеров Иван 17" in edit and "5500016" not in edit


def test_switch_port_form_picks_the_subaccount(as_admin, conn):
    _people(conn, 2)
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) SELECT id, 'port-1'"
                       " FROM accounts WHERE contract = '5500001' RETURNING id").fetchone()[0]
    switch = conn.execute("INSERT INTO switches (name, remote_id) VALUES ('sw', 'aa')"
                          " RETURNING id").fetchone()[0]
    form = as_admin.get("/subaccountswitchportview/add").text
    assert "port-1" not in form and 'class="form-control ebs-picker"' in form
    submit(as_admin, "/subaccountswitchportview/add",
           {"subaccount": str(sub), "switch": str(switch), "port": "7"})
    assert conn.execute("SELECT subaccount_id, port FROM subaccount_switch_ports"
                        ).fetchall() == [(sub, 7)]


def test_the_card_speaks_russian(web_settings, staff, conn):  # noqa: F811
    from tests.web.conftest import ADMIN, FAST_HASH, LIMITS_STORAGE
    from webapp.app import create_app

    web_settings.LANGUAGE_CODE = "ru"
    client = create_app(web_settings, TESTING=True, FAB_UPDATE_PERMS=False,
                        FAB_PASSWORD_HASH_METHOD=FAST_HASH,
                        RATELIMIT_STORAGE_URI=LIMITS_STORAGE).test_client()
    login(client, *ADMIN)
    card = client.get(f"/accountview/show/{_account(conn, '81017')}").text
    for word in ("Пополнить", "Корректировка", "Перевести", "Отключить", "Прошлые сессии",
                 "Кредит", "Сессий онлайн"):
        assert word in card, word
