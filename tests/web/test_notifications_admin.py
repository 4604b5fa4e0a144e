"""The admin's notification pages: a template that cannot render is refused at save with
the reason; the preview renders with a chosen subscriber's fields; the messages list and
a message the sender left unknown, sent again or cancelled by an operator through the
outbox (state moved, audit row, a repeated click changes nothing); a mailing to a filtered
selection counts it, queues the right accounts once (the same form again queues nothing)
with its progress right; the account card's opt-out switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing import ledger
from billing.notifications import batches, events, outbox
from billing.notifications.selection import Selection
from tests.web.conftest import csrf_token, submit

SMSRU = "sendsms.backends.smsru.SmsBackend"


@pytest.fixture
def sms_settings(app):
    """The app's settings with the guide's sms.ru backend as the default."""
    settings = app.config["EBS_SETTINGS"]
    settings.SENDSMS_DEFAULT_BACKEND = SMSRU
    return settings


def _template(conn, body: str, code: str = "news", essential: bool = False,
              language: str = "en") -> int:
    return conn.execute(
        "INSERT INTO message_templates (code, language, channel, body, essential)"
        " VALUES (%s, %s, 'sms', %s, %s) RETURNING id",
        (code, language, body, essential)).fetchone()[0]


def _account(conn, contract: str, balance: str = "0", phone: str = "") -> int:
    account_id = conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (contract, f"u{contract}", f"Holder {contract}", phone)).fetchone()[0]
    if Decimal(balance):
        ledger.post(conn, ledger.Entry(account_id, "correction", Decimal(balance),
                                       f"set:{contract}", datetime(2026, 1, 1, tzinfo=UTC)))
    return account_id


def _audit(conn, action: str, object_type: str) -> int:
    return conn.execute("SELECT count(*) FROM staff_audit_log WHERE action = %s"
                        " AND object_type = %s AND old_values = '{}'",
                        (action, object_type)).fetchone()[0]


def test_a_template_that_cannot_render_is_refused_with_the_reason(as_admin, conn):
    form = {"code": "my_notice", "language": "en", "channel": "sms", "subject": "",
            "body": "Dear {{ full_nam }}, your balance is {{ balance|money }}"}
    page = submit(as_admin, "/messagetemplateview/add", form)
    assert page.status_code == 200
    assert "Refused" in page.text and "full_nam" in page.text
    mine = "SELECT code, body FROM message_templates WHERE code = 'my_notice'"
    assert conn.execute(mine).fetchall() == []
    broken = submit(as_admin, "/messagetemplateview/add",
                    {**form, "body": "Balance {{ balance|money }"})
    assert "Refused" in broken.text
    done = submit(as_admin, "/messagetemplateview/add",
                  {**form, "body": "Dear {{ full_name }}, your balance is {{ balance|money }}"})
    assert done.status_code == 200
    assert conn.execute(mine).fetchall() == [
        ("my_notice", "Dear {{ full_name }}, your balance is {{ balance|money }}")]


def test_the_preview_renders_with_the_chosen_subscribers_fields(as_admin, conn):
    template = _template(conn, "{{ contract }}: {{ full_name }} has {{ balance|money }}")
    account = _account(conn, "7001", balance="-1234.50")
    page = as_admin.get(f"/notification-templates/{template}/preview?account={account}")
    assert page.status_code == 200
    shown = page.text.split('id="ebs-preview-text"', 1)[1].split("</pre>", 1)[0]
    assert "7001: Holder 7001 has -1,234.50" in shown
    assert 'data-parts="1"' in page.text
    assert as_admin.get("/notification-templates/999999/preview").status_code == 404


def _unknown_message(conn, key: str) -> int:
    now = datetime.now(UTC)
    message_id = outbox.enqueue(conn, outbox.Message(
        idempotency_key=key, channel="sms", backend=SMSRU,
        recipient="+79161234567", body="Hello", due_at=now - timedelta(hours=1)))
    assert [c.id for c in outbox.claim(conn, now - timedelta(hours=1))] == [message_id]
    assert outbox.expire_sending(conn, now) == 1
    return message_id


def _state(conn, message_id: int) -> str:
    return conn.execute("SELECT state FROM messages WHERE id = %s",
                        (message_id,)).fetchone()[0]


def test_an_unknown_message_is_sent_again_or_cancelled_by_the_operator(as_admin, conn):
    again, dropped = _unknown_message(conn, "t:1"), _unknown_message(conn, "t:2")
    listing = as_admin.get("/messageview/list/?_flt_0_state=unknown")
    assert listing.status_code == 200 and "+79161234567" in listing.text
    for empty in ("_flt_0_state=sent", "_flt_0_account_id=999999", "_flt_0_batch_id=1",
                  "_flt_0_created_at=2999-01-01"):
        assert "+79161234567" not in as_admin.get(f"/messageview/list/?{empty}").text, empty
    assert "+79161234567" in as_admin.get("/messageview/list/?_flt_1_created_at=2999-01-01").text
    page = as_admin.get(f"/messageview/show/{again}")
    assert page.status_code == 200
    assert 'id="ebs-message-unknown"' in page.text and 'id="ebs-message-requeue"' in page.text
    url = f"/message-decision/{again}/requeue"
    token = csrf_token(page.text)
    as_admin.post(url, data={"csrf_token": token})
    assert _state(conn, again) == "queued"
    assert _audit(conn, "status", "messages") == 1
    repeated = as_admin.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "nothing changed" in repeated.text
    assert _audit(conn, "status", "messages") == 1
    as_admin.post(f"/message-decision/{dropped}/cancel", data={"csrf_token": token})
    assert _state(conn, dropped) == "cancelled"
    assert _audit(conn, "status", "messages") == 2
    # A queued message offers no decision; a click without the form's token is refused.
    assert 'id="ebs-message-requeue"' not in as_admin.get(f"/messageview/show/{again}").text
    assert as_admin.post(url, data={}).status_code == 400


def test_a_mailing_to_a_filtered_selection_queues_each_account_once(as_admin, conn,
                                                                    sms_settings, monkeypatch):
    _template(conn, "{{ contract }} owes {{ balance|money }}", code="debt_notice")
    low = [_account(conn, f"80{i:02d}", balance=f"-{i + 1}0", phone=f"+7916123450{i}")
           for i in range(5)]
    _account(conn, "8100", balance="500", phone="+79161234599")  # above the range
    monkeypatch.setattr(batches, "CHUNK", 2)  # three chunks for five accounts
    form = as_admin.get("/mailings/new")
    assert form.status_code == 200
    nonce = form.text.split('name="nonce" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"template": "debt_notice:sms", "account": "", "tariff": "", "status": "",
            "balance_from": "-1000", "balance_to": "0", "nas": "", "due_at": "",
            "nonce": nonce, "csrf_token": csrf_token(form.text)}
    counted = as_admin.post("/mailings/new", data=data)
    assert 'data-count="5"' in counted.text
    assert conn.execute("SELECT count(*) FROM message_batches").fetchone()[0] == 0
    done = as_admin.post("/mailings/new", data={**data, "confirm": "1"},
                         follow_redirects=True)
    assert done.status_code == 200
    assert 'data-total="5" data-queued="5" data-skipped="0" data-state="queued"' in done.text
    again = as_admin.post("/mailings/new", data={**data, "confirm": "1"},
                          follow_redirects=True)
    assert "nothing was queued again" in again.text
    assert conn.execute("SELECT count(*) FROM message_batches").fetchone()[0] == 1
    rows = conn.execute("SELECT account_id, body FROM messages ORDER BY account_id").fetchall()
    assert [r[0] for r in rows] == low
    assert rows[0][1] == "8000 owes -10.00"
    assert _audit(conn, "add", "message_batches") == 1


def test_a_mailing_stopped_half_way_goes_on_where_it_stopped(as_admin, conn, sms_settings):
    _template(conn, "Hello {{ full_name }}", code="hello")
    for i in range(3):
        _account(conn, f"90{i:02d}", phone=f"+7916765432{i}")
    batch_id, new = batches.create(conn, template_code="hello", channel="sms",
                                   selection=Selection(),
                                   due_at=datetime.now(UTC), request_key="k1")
    assert new and batches.queue_next(conn, batch_id, limit=2, settings=sms_settings)
    page = as_admin.get(f"/mailings/{batch_id}")
    assert 'data-total="3" data-queued="2"' in page.text and 'data-state="selecting"' in page.text
    as_admin.post(f"/mailings/{batch_id}/continue", data={"csrf_token": csrf_token(page.text)})
    batch = batches.get(conn, batch_id)
    assert (batch.total, batch.queued, batch.skipped, batch.state) == (3, 3, 0, "queued")
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 3
    as_admin.post(f"/mailings/{batch_id}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert conn.execute("SELECT count(*) FROM messages WHERE state = 'cancelled'"
                        ).fetchone()[0] == 3
    assert batches.get(conn, batch_id).state == "cancelled"


def test_the_days_balance_alerts_show_what_waits_and_cancel_it(as_admin, conn,
                                                             sms_settings):
    for i in range(2):
        _account(conn, f"91{i:02d}", balance="-3.00", phone=f"+7916765431{i}")
    sms_settings.SENDSMS_IF_BALLANCE_AMOUNT = Decimal(0)
    assert events.balance_alerts(conn, datetime.now(UTC), sms_settings).queued == 2
    batch_id = conn.execute("SELECT id FROM message_batches").fetchone()[0]
    page = as_admin.get(f"/mailings/{batch_id}")
    assert 'data-state="waiting" data-count="2"' in page.text
    assert "balance alerts" in page.text
    as_admin.post(f"/mailings/{batch_id}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert batches.waiting(conn, batch_id) == 0
    assert "2 messages not yet sent are cancelled" in as_admin.get(
        f"/mailings/{batch_id}").text


def test_the_account_card_switches_non_essential_messages_off_and_on(as_admin, conn):
    account = _account(conn, "6001")
    card = as_admin.get(f"/accountview/show/{account}")
    assert 'data-action="switch"' in card.text
    url = f"/account-notifications/{account}"
    submit(as_admin, url, {"receives": "essential"})
    submit(as_admin, url, {"receives": "essential"})
    assert conn.execute("SELECT count(*) FROM notification_optouts WHERE account_id = %s",
                        (account,)).fetchone()[0] == 1
    assert _audit(conn, "edit", "accounts") == 1
    assert re.search(r'<input checked[^>]*value="essential"', as_admin.get(url).text)
    submit(as_admin, url, {"receives": "all"})
    assert conn.execute("SELECT count(*) FROM notification_optouts").fetchone()[0] == 0
    assert _audit(conn, "edit", "accounts") == 2


def test_accounts_chosen_on_the_list_get_a_mailing(as_admin, conn, sms_settings):
    _template(conn, "Works tonight, {{ full_name }}", code="works")
    chosen = [_account(conn, f"50{i}", phone=f"+7916111220{i}") for i in range(2)]
    _account(conn, "509", phone="+79161112209")
    listing = as_admin.get("/accountview/list/")
    picked = as_admin.post("/accountview/action_post", data={
        "action": "mailing", "rowid": [str(a) for a in chosen],
        "csrf_token": csrf_token(listing.text)})
    assert picked.status_code == 302 and "/mailings/new" in picked.headers["Location"]
    form = as_admin.get(picked.headers["Location"])
    assert 'id="ebs-chosen"' in form.text and "Holder 500" in form.text
    assert "Holder 509" not in form.text
    nonce = form.text.split('name="nonce" type="hidden" value="', 1)[1].split('"', 1)[0]
    ids = form.text.split('name="ids" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"template": "works:sms", "ids": ids, "nonce": nonce, "confirm": "1",
            "csrf_token": csrf_token(form.text)}
    done = as_admin.post("/mailings/new", data=data, follow_redirects=True)
    assert 'data-total="2" data-queued="2"' in done.text
    assert [r[0] for r in conn.execute(
        "SELECT account_id FROM messages ORDER BY account_id")] == chosen


def test_a_long_mailing_queues_a_request_at_a_time(as_admin, conn, sms_settings,
                                                   monkeypatch):
    from webapp.views import notification_mailings

    _template(conn, "Hello {{ full_name }}", code="hello")
    for i in range(3):
        _account(conn, f"91{i:02d}", phone=f"+7916765431{i}")
    monkeypatch.setattr(batches, "CHUNK", 2)
    monkeypatch.setattr(notification_mailings, "REQUEST_SECONDS", -1)  # one chunk each
    form = as_admin.get("/mailings/new")
    nonce = form.text.split('name="nonce" type="hidden" value="', 1)[1].split('"', 1)[0]
    page = as_admin.post("/mailings/new", data={
        "template": "hello:sms", "nonce": nonce, "confirm": "1",
        "csrf_token": csrf_token(form.text)}, follow_redirects=True)
    assert 'data-queued="2" data-skipped="0" data-state="selecting"' in page.text
    assert 'id="ebs-batch-continue"' in page.text
    batch_id = conn.execute("SELECT id FROM message_batches").fetchone()[0]
    done = as_admin.post(f"/mailings/{batch_id}/continue",
                         data={"csrf_token": csrf_token(page.text)}, follow_redirects=True)
    assert 'data-total="3" data-queued="3" data-skipped="0" data-state="queued"' in done.text
