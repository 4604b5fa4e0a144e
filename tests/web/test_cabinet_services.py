"""The cabinet's tariff change and suspension: the cost and the moment shown before the
subscriber confirms, the same billing functions as the admin's and the cashier's, a
refusal in the subscriber's words with nothing written, a repeated confirmation done
once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.charging_helpers import assign, pay, settlement_period, tariff
from tests.web.cabinet_helpers import cabinet_login, cabinet_post, subscriber
from tests.web.conftest import csrf_token

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _rule(conn, from_id, to_id, *, cost="0", effective="NOW", min_balance="0",
          allowed=True):
    conn.execute(
        "INSERT INTO tariff_change_rules (from_tariff_id, to_tariff_id, allowed, cost,"
        " min_balance, effective) VALUES (%s, %s, %s, %s, %s, %s)",
        (from_id, to_id, allowed, Decimal(cost), Decimal(min_balance), effective))


def _name(conn, tariff_id):
    return conn.execute("SELECT name FROM tariffs WHERE id = %s", (tariff_id,)).fetchone()[0]


def _charges(conn, account_id, kind):
    return conn.execute("SELECT count(*), coalesce(sum(amount), 0) FROM ledger_entries"
                        " WHERE account_id = %s AND kind = %s", (account_id, kind)).fetchone()


def _confirm(client, page, data):
    """Press the confirmation's button: the page's hidden fields, its token, ``confirm``."""
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"',
                             page.text))
    assert fields.keys() >= data.keys()
    return client.post(page.request.path, data={**fields, "confirm": "1"},
                       follow_redirects=True)


def _on_tariff(conn, balance="100"):
    account_id, name, password = subscriber(conn)
    current = tariff(conn)
    conn.execute("UPDATE tariffs SET settlement_period_id = %s WHERE id = %s",
                 (settlement_period(conn), current))
    assign(conn, account_id, current, SINCE)
    pay(conn, account_id, balance)
    return account_id, name, password, current


def test_the_matrix_offers_its_allowed_tariffs_with_cost_and_moment(client, conn):
    _account_id, name, password, current = _on_tariff(conn)
    now_one, later_one, closed = tariff(conn), tariff(conn), tariff(conn)
    _rule(conn, current, now_one, cost="50")
    _rule(conn, current, later_one, effective="NEXT_PERIOD")
    _rule(conn, current, closed, allowed=False)
    cabinet_login(client, name, password)
    page = client.get("/cabinet/tariff")
    assert f'id="cabinet-tariff-option-{now_one}"' in page.text
    assert f'id="cabinet-tariff-option-{later_one}"' in page.text
    assert f'id="cabinet-tariff-option-{closed}"' not in page.text
    assert 'data-value="50.00"' in page.text and "from the next period" in page.text


def test_a_change_now_shows_its_cost_then_is_made_once(client, conn):
    account_id, name, password, current = _on_tariff(conn)
    target = tariff(conn)
    _rule(conn, current, target, cost="50")
    cabinet_login(client, name, password)
    check = cabinet_post(client, "/cabinet/tariff", {"tariff_id": target})
    assert 'id="cabinet-confirm-cost" data-value="50.00"' in check.text
    assert 'id="cabinet-confirm-when" data-value=' in check.text and ">now<" in check.text
    assert _charges(conn, account_id, "charge_tariff_change") == (0, 0)
    done = _confirm(client, check, {"tariff_id": target})
    assert "Your tariff is now " + _name(conn, target) in done.text
    again = _confirm(client, check, {"tariff_id": target})
    assert again.status_code == 200 and "Your tariff is now" not in again.text
    assert _charges(conn, account_id, "charge_tariff_change") == (1, Decimal("-50.00"))
    assert conn.execute("SELECT count(*) FROM tariff_changes WHERE account_id = %s",
                        (account_id,)).fetchone()[0] == 1


def test_a_change_at_the_next_period_is_scheduled_and_can_be_cancelled(client, conn):
    account_id, name, password, current = _on_tariff(conn)
    target = tariff(conn)
    _rule(conn, current, target, effective="NEXT_PERIOD")
    cabinet_login(client, name, password)
    check = cabinet_post(client, "/cabinet/tariff", {"tariff_id": target})
    when = re.search(r'id="cabinet-confirm-when" data-value="([^"]+)"', check.text).group(1)
    assert datetime.fromisoformat(when) > datetime.now(UTC)
    done = _confirm(client, check, {"tariff_id": target})
    assert "Your tariff changes to" in done.text
    assert 'id="cabinet-tariff-pending"' in done.text
    status = conn.execute("SELECT status, effective_at FROM tariff_changes"
                          " WHERE account_id = %s", (account_id,)).fetchone()
    assert status == ("pending", datetime.fromisoformat(when))
    cancelled = client.post("/cabinet/tariff/cancel",
                            data={"csrf_token": csrf_token(done.text)}, follow_redirects=True)
    assert "The scheduled change of tariff is cancelled." in cancelled.text
    assert conn.execute("SELECT status FROM tariff_changes WHERE account_id = %s",
                        (account_id,)).fetchone()[0] == "cancelled"


def test_a_refused_change_says_why_and_writes_nothing(client, conn):
    _account_id, name, password, current = _on_tariff(conn, balance="100")
    target = tariff(conn)
    _rule(conn, current, target, cost="10", min_balance="1000")
    cabinet_login(client, name, password)
    answer = cabinet_post(client, "/cabinet/tariff", {"tariff_id": target})
    assert 'id="cabinet-refused"' in answer.text
    assert "This change needs a balance of at least 1" in answer.text
    assert 'id="cabinet-confirm"' not in answer.text
    assert conn.execute("SELECT count(*) FROM tariff_changes").fetchone()[0] == 0


def test_no_choice_or_a_tariff_not_offered_is_a_field_error(client, conn):
    _account_id, name, password, current = _on_tariff(conn)
    offered, other = tariff(conn), tariff(conn)
    _rule(conn, current, offered)
    cabinet_login(client, name, password)
    empty = cabinet_post(client, "/cabinet/tariff", {})
    assert "Choose a tariff." in empty.text
    stranger = cabinet_post(client, "/cabinet/tariff", {"tariff_id": other, "confirm": "1"})
    assert "Not a valid choice" in stranger.text
    assert conn.execute("SELECT count(*) FROM tariff_changes").fetchone()[0] == 0


def _suspendable(conn, *, cost="30", max_days=10, min_balance="0", allowed=True):
    account_id, name, password, current = _on_tariff(conn)
    conn.execute("UPDATE tariffs SET allow_self_suspension = %s, suspension_cost = %s,"
                 " suspension_max_days = %s, suspension_min_balance = %s WHERE id = %s",
                 (allowed, Decimal(cost), max_days, Decimal(min_balance), current))
    return account_id, name, password


def _state(conn, account_id):
    return conn.execute(
        "SELECT a.status, (SELECT count(*) FROM account_suspensions s"
        " WHERE s.account_id = a.id) FROM accounts a WHERE a.id = %s",
        (account_id,)).fetchone()


def test_a_suspension_shows_its_cost_first_then_suspends_once_and_resumes(client, conn):
    account_id, name, password = _suspendable(conn)
    cabinet_login(client, name, password)
    page = client.get("/cabinet/suspension")
    assert 'id="cabinet-suspension-cost" data-value="30.00"' in page.text
    check = cabinet_post(client, "/cabinet/suspension", {"days": "5"})
    assert 'id="cabinet-confirm-cost" data-value="30.00"' in check.text
    assert _state(conn, account_id) == ("active", 0)
    assert _charges(conn, account_id, "charge_suspension") == (0, 0)
    done = _confirm(client, check, {"days": "5"})
    assert "Your service is suspended until" in done.text
    again = _confirm(client, check, {"days": "5"})
    assert again.status_code == 200
    assert _state(conn, account_id) == ("suspended", 1)
    assert _charges(conn, account_id, "charge_suspension") == (1, Decimal("-30.00"))
    resumed = client.post("/cabinet/suspension/resume",
                          data={"csrf_token": csrf_token(done.text)}, follow_redirects=True)
    assert "Your service is resumed." in resumed.text
    assert _state(conn, account_id) == ("active", 1)


def test_suspension_days_beyond_the_tariff_are_a_field_error(client, conn):
    account_id, name, password = _suspendable(conn, max_days=10)
    cabinet_login(client, name, password)
    answer = cabinet_post(client, "/cabinet/suspension", {"days": "11"})
    assert "From 1 to 10 days." in answer.text
    words = cabinet_post(client, "/cabinet/suspension", {"days": "many"})
    assert 'has-error' in words.text
    assert _state(conn, account_id) == ("active", 0)


def test_a_refused_suspension_says_why_and_writes_nothing(client, conn):
    account_id, name, password = _suspendable(conn, min_balance="1000")
    cabinet_login(client, name, password)
    answer = cabinet_post(client, "/cabinet/suspension", {"days": "3"})
    assert "A suspension needs a balance of at least 1" in answer.text
    assert _state(conn, account_id) == ("active", 0)
    _closed_id, closed_name, closed_password = _suspendable(conn, allowed=False)
    other = client.application.test_client()
    cabinet_login(other, closed_name, closed_password)
    page = other.get("/cabinet/suspension")
    assert "Your tariff does not allow suspending the service." in page.text
    assert 'id="cabinet-suspend-form"' not in page.text
