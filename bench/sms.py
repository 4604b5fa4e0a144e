"""``ebs bench sms``: the balance-alert pass over many subscribers, against the plain query
that only finds them, and the sender's pace against a local provider.

A private durable PostgreSQL holds ``accounts`` subscribers, each with a mobile number as
people type them; ``below`` of them owe money (the rest have some). The operator's
settings are the guide's lines (``SENDSMS_IF_BALLANCE_AMOUNT = 0``) with sms.ru as the
default backend, pointed at a local stand-in that answers as sms.ru's API does
(tests/notify_fakes.py).

Measured in the same run, alternating, each ``runs`` times (medians):

* the baseline — ``SELECT id, balance, phone FROM accounts WHERE balance < 0``, every row
  fetched by the client;
* ours — ``billing.notifications.events.balance_alerts``: the same subscribers selected,
  their ``balance_alerts`` read and counted, their numbers joined to E.164, opt-outs
  counted, and ``below`` queued as the day's lazy batch (the ids in the batch's row; the
  messages are made when sent), one transaction, committed. Each run is the next day's
  pass (one alert a day), so each queues ``below`` new recipients.

The first pass reads every number once (``phone_numbers``); it is reported apart
(``ours_first_s``), and the ratio is of the passes after it, as every day's pass after the
first runs. Then ``send`` of the queued go through the sender
(``worker.notify.sender.send_due``: made from the batch, claimed, a call to the provider,
the answer recorded, one message at a time as the beat's task runs) and their rate is
``sent_per_s``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.radius_common import connect, say, start_postgres
from billing import settings as settings_mod
from billing.notifications import events
from worker.notify import sender

if str(settings_mod.PROJECT_ROOT) not in sys.path:
    # The provider's stand-in is the tests' (tests/notify_fakes.py), one copy of the
    # protocol; the checkout's tests are not an installed package.
    sys.path.append(str(settings_mod.PROJECT_ROOT))
from tests.notify_fakes import FakeSmsRu

TIME_ZONE = "Europe/Moscow"
SETTINGS = """\
SENDSMS_BACKENDS = ( ('sendsms.backends.websms.SmsBackend', 'websms.ru'), ('sendsms.backends.smsru.SmsBackend', 'sms.ru'), )
SENDSMS_BACKENDS_SETTINGS = {{ 'sendsms.backends.smsru': {{ 'FROM_NAME': '', 'API_ID': '{api_id}', 'TRANSLIT': '0', 'TEST': '0', 'PARTNER_ID': '', 'URL': '{url}', }} }}
SENDSMS_IF_BALLANCE_AMOUNT = 0
SENDSMS_DEFAULT_BACKEND = 'sendsms.backends.smsru.SmsBackend'
SENDSMS_BALANCE_MAX_TIMES = 1000
TIME_ZONE = '{zone}'
"""  # noqa: E501
BASELINE = "SELECT id, balance, phone FROM accounts WHERE balance < 0"


def seed(conn, accounts: int, below: int) -> None:
    """Subscribers with numbers as typed; every ``accounts // below``-th one in debt (a
    correction), the others with a payment; statistics fresh."""
    step = max(1, accounts // below)
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone)"
        " SELECT 'c' || n, 'u' || n, 'Абонент ' || n,"
        "        '8 (9' || lpad((16 + n %% 80)::text, 2, '0') || ') '"
        "        || substr(lpad(n::text, 7, '0'), 1, 3) || '-'"
        "        || substr(lpad(n::text, 7, '0'), 4, 2) || '-'"
        "        || substr(lpad(n::text, 7, '0'), 6, 2)"
        "   FROM generate_series(1, %s) n", (accounts,))
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT id, CASE WHEN id %% %(step)s = 0 AND id / %(step)s <= %(below)s"
        "                 THEN 'correction' ELSE 'payment' END,"
        "        CASE WHEN id %% %(step)s = 0 AND id / %(step)s <= %(below)s"
        "             THEN -(1 + id %% 300) ELSE 100 + id %% 900 END,"
        "        'seed:' || id, now() - interval '1 day'"
        "   FROM accounts", {"step": step, "below": below})
    conn.execute("VACUUM ANALYZE")


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(accounts: int = 500_000, below: int = 50_000, runs: int = 3,
        send: int = 5_000) -> dict:
    zone = ZoneInfo(TIME_ZONE)
    fake = FakeSmsRu().start()
    with tempfile.TemporaryDirectory(prefix="ebs-bench-sms-") as tmp:
        base = Path(tmp)
        settings_path = base / "settings_local.py"
        settings_path.write_text(SETTINGS.format(api_id=fake.api_id, url=fake.base,
                                                 zone=TIME_ZONE), encoding="utf-8")
        settings = settings_mod.load({"EBS_SETTINGS": str(settings_path)})
        say("starting PostgreSQL (durable)")
        pg = start_postgres(base)
        try:
            with connect(pg) as conn:
                say(f"seeding {accounts} subscribers, {below} below the threshold")
                started = time.perf_counter()
                seed(conn, accounts, below)
                say(f"seeded in {time.perf_counter() - started:.0f} s")
                day = datetime.now(zone).replace(hour=12, minute=0, second=0, microsecond=0)

                def ours(at: datetime) -> None:
                    result = events.balance_alerts(conn, at, settings)
                    assert (result.selected, result.queued) == (below, below), result

                def baseline() -> None:
                    rows = conn.execute(BASELINE).fetchall()
                    assert len(rows) == below, len(rows)

                first = _timed(lambda: ours(day))
                say(f"ours, first pass (numbers read once): {first:.3f} s")
                plain, passes = [], []
                for n in range(1, runs + 1):
                    plain.append(_timed(baseline))
                    passes.append(_timed(lambda n=n: ours(day + timedelta(days=n))))
                    say(f"run {n}: baseline {plain[-1]:.3f} s, ours {passes[-1]:.3f} s")
                now = day + timedelta(days=runs)
                say(f"sending {send} messages through the sender to the local sms.ru")
                counts = None

                def deliver() -> None:
                    nonlocal counts
                    counts = sender.send_due(conn, now, settings, max_messages=send)

                sending = _timed(deliver)
                delivered = len(fake.sends())
                say(f"sent {counts.sent} in {sending:.1f} s; the provider got {delivered}")
        finally:
            pg.stop()
            fake.stop()
    baseline_s, ours_s = statistics.median(plain), statistics.median(passes)
    return {
        "accounts": accounts, "below": below, "runs": runs,
        "baseline_s": round(baseline_s, 4), "ours_s": round(ours_s, 4),
        "ratio": round(ours_s / baseline_s, 2), "ours_first_s": round(first, 3),
        "baseline_runs_s": [round(x, 4) for x in plain],
        "ours_runs_s": [round(x, 4) for x in passes],
        "sent": counts.sent, "provider_received": delivered,
        "sent_per_s": round(counts.sent / sending, 1),
    }
