"""``ebs bench radius-acct``: Interim-Updates applied per second, ours vs stock rlm_sql.

N live sessions in both tables. Each run sends every session one Interim-Update of a new
pass (at most ``seconds`` of sending), 64 in flight, to each side in turn:
  * ours: the production site in the spool accounting mode (the default): FreeRADIUS
    writes each packet to the spool file and answers; the follower process
    (``ebs acct drain --follow``) applies the spool in ordered batches, one durable
    commit per batch. The clock stops when the sessions table holds the pass for every
    answered packet, so the figure is updates *applied* (committed) per second, and the
    time from the last answer to that moment is the drain lag;
  * baseline ("stock rlm_sql"): FreeRADIUS's shipped PostgreSQL accounting for an
    interim: the UPDATE of radacct by AcctUniqueId (then an INSERT when no row matched),
    on the shipped radacct table and indexes, with the same acct_unique key; it answers
    after its durable commit, so answered is applied (checked in the table all the same).
Both commit durably on one private PostgreSQL (fsync, synchronous_commit on). The
difference in durability is the answer's: the baseline answers after a commit, ours after
a write to the spool file that is not fsynced (JSON ``ack_durability``).
Also reported: one run of ours in the live mode (rlm_sql per packet), and an outage:
PostgreSQL stopped while a pass is sent (all answered from the spool), then restarted, and
the time the follower takes to apply it.
"""

from __future__ import annotations

import json
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.radius_common import (
    DB,
    NAS_IP,
    SECRET,
    WINDOW,
    baseline_site,
    baseline_templates,
    connect,
    median_of,
    radius_server,
    say,
    seed_nas,
    start_postgres,
)
from bench.udp_sender import ACCOUNTING_RESPONSE, accounting_request, attribute, run_load
from stack import db_roles
from stack.servers.acct_drain import acct_drainer

USER_NAME, NAS_IP_ADDRESS, NAS_PORT = 1, 4, 5
ACCT_STATUS_TYPE, ACCT_INPUT_OCTETS, ACCT_OUTPUT_OCTETS = 40, 42, 43
ACCT_SESSION_ID, ACCT_SESSION_TIME, EVENT_TIMESTAMP = 44, 46, 55
INTERIM_UPDATE = 3

# The shipped radacct (mods-config/sql/main/postgresql/schema.sql), columns and indexes.
STOCK_SCHEMA = """
CREATE TABLE radacct (
    RadAcctId bigserial PRIMARY KEY, AcctSessionId text NOT NULL,
    AcctUniqueId text NOT NULL UNIQUE, UserName text, Realm text, NASIPAddress inet NOT NULL,
    NASPortId text, NASPortType text, AcctStartTime timestamptz, AcctUpdateTime timestamptz,
    AcctStopTime timestamptz, AcctInterval bigint, AcctSessionTime bigint,
    AcctAuthentic text, ConnectInfo_start text, ConnectInfo_stop text,
    AcctInputOctets bigint, AcctOutputOctets bigint, CalledStationId text,
    CallingStationId text, AcctTerminateCause text, ServiceType text, FramedProtocol text,
    FramedIPAddress inet, FramedIPv6Address inet, FramedIPv6Prefix inet,
    FramedInterfaceId text, DelegatedIPv6Prefix inet, Class text
);
CREATE INDEX radacct_active_session_idx ON radacct (AcctUniqueId) WHERE AcctStopTime IS NULL;
CREATE INDEX radacct_bulk_close ON radacct (NASIPAddress, AcctStartTime)
    WHERE AcctStopTime IS NULL;
CREATE INDEX radacct_start_user_idx ON radacct (AcctStartTime, UserName);
CREATE INDEX radacct_calss_idx ON radacct (Class);
-- The stock server logs in as FreeRADIUS's role, like ours.
GRANT SELECT, INSERT, UPDATE ON radacct TO ebs_radius;
GRANT USAGE ON SEQUENCE radacct_radacctid_seq TO ebs_radius;
"""

# The shipped interim-update queries (UPDATE, then INSERT when no row matched), only the
# packet type the benchmark sends.
STOCK_QUERIES = """\
accounting {
	reference = "%{tolower:type.%{Acct-Status-Type}.query}"
	type {
		interim-update {
			query = "\\
				UPDATE radacct SET \\
					FramedIPAddress = NULLIF('%{Framed-IP-Address}', '')::inet, \\
					FramedIPv6Address = NULLIF('%{Framed-IPv6-Address}', '')::inet, \\
					FramedIPv6Prefix = NULLIF('%{Framed-IPv6-Prefix}', '')::inet, \\
					FramedInterfaceId = NULLIF('%{Framed-Interface-Id}', ''), \\
					DelegatedIPv6Prefix = NULLIF('%{Delegated-IPv6-Prefix}', '')::inet, \\
					AcctSessionTime = %{%{Acct-Session-Time}:-NULL}, \\
					AcctInterval = (%{%{integer:Event-Timestamp}:-%l} \\
						- EXTRACT(EPOCH FROM (COALESCE(AcctUpdateTime, AcctStartTime)))), \\
					AcctUpdateTime = TO_TIMESTAMP(%{%{integer:Event-Timestamp}:-%l}), \\
					AcctInputOctets = (('%{%{Acct-Input-Gigawords}:-0}'::bigint << 32) \\
						+ '%{%{Acct-Input-Octets}:-0}'::bigint), \\
					AcctOutputOctets = (('%{%{Acct-Output-Gigawords}:-0}'::bigint << 32) \\
						+ '%{%{Acct-Output-Octets}:-0}'::bigint) \\
				WHERE AcctUniqueId = '%{Acct-Unique-Session-Id}' AND AcctStopTime IS NULL"
			query = "\\
				INSERT INTO radacct (AcctSessionId, AcctUniqueId, UserName, NASIPAddress, \\
					NASPortId, AcctStartTime, AcctUpdateTime, AcctSessionTime, \\
					AcctInputOctets, AcctOutputOctets, CalledStationId, CallingStationId, \\
					FramedIPAddress) \\
				VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{User-Name}', \\
					'%{NAS-IP-Address}', NULLIF('%{%{NAS-Port-ID}:-%{NAS-Port}}', ''), \\
					TO_TIMESTAMP(%{%{integer:Event-Timestamp}:-%l}), \\
					TO_TIMESTAMP(%{%{integer:Event-Timestamp}:-%l}), \\
					%{%{Acct-Session-Time}:-NULL}, \\
					'%{%{Acct-Input-Octets}:-0}'::bigint, '%{%{Acct-Output-Octets}:-0}'::bigint, \\
					'%{Called-Station-Id}', '%{Calling-Station-Id}', \\
					NULLIF('%{Framed-IP-Address}', '')::inet) \\
				ON CONFLICT (AcctUniqueId) DO NOTHING"
		}
	}
}
"""

STOCK_SITE = baseline_site(
    "The baseline: stock rlm_sql accounting (the shipped interim queries), nothing else.",
    """\
	authorize {
		ok
	}
	authenticate {
	}
	preacct {
		acct_unique
	}
	accounting {
		sql
	}
""")

# The key FreeRADIUS's acct_unique policy computes for the packets below.
_UNIQUE = "md5('b' || lpad(g::text, 7, '0') || ',s' || g || ',' || %(nas)s || ',,,' || g)"


def seed(conn: psycopg.Connection, sessions: int) -> None:
    """N open sessions in both tables, started an hour ago with zero counters."""
    seed_nas(conn)
    conn.execute(STOCK_SCHEMA)
    params = {"nas": NAS_IP, "n": sessions}
    conn.execute(
        "INSERT INTO sessions_open (acct_unique_id, acct_session_id, nas_ip, username,"
        " nas_port_id, started_at, updated_at)"
        f" SELECT {_UNIQUE}, 's' || g, %(nas)s::inet, 'b' || lpad(g::text, 7, '0'), g::text,"
        " now() - interval '1 hour', now() - interval '1 hour'"
        " FROM generate_series(1, %(n)s) g", params)
    conn.execute(
        "INSERT INTO radacct (AcctSessionId, AcctUniqueId, UserName, NASIPAddress, NASPortId,"
        " AcctStartTime, AcctUpdateTime, AcctSessionTime, AcctInputOctets, AcctOutputOctets)"
        f" SELECT 's' || g, {_UNIQUE}, 'b' || lpad(g::text, 7, '0'), %(nas)s::inet, g::text,"
        " now() - interval '1 hour', now() - interval '1 hour', 0, 0, 0"
        " FROM generate_series(1, %(n)s) g", params)
    conn.execute("VACUUM ANALYZE")


def packet_maker(lap: int):
    """Request k is the Interim-Update of session k + 1 on pass ``lap``: every session gets
    at most one per pass, with counters above every earlier pass."""
    secret = SECRET.encode()
    fixed = (attribute(NAS_IP_ADDRESS, socket.inet_aton(NAS_IP))
             + attribute(ACCT_STATUS_TYPE, INTERIM_UPDATE)
             + attribute(ACCT_INPUT_OCTETS, lap * 1000)
             + attribute(ACCT_OUTPUT_OCTETS, lap * 2000)
             + attribute(ACCT_SESSION_TIME, lap * 60))

    def make(seq: int, ident: int) -> bytes:
        n = seq + 1
        attrs = (attribute(USER_NAME, f"b{n:07d}") + attribute(ACCT_SESSION_ID, f"s{n}")
                 + attribute(NAS_PORT, n) + fixed
                 + attribute(EVENT_TIMESTAMP, int(time.time())))
        return accounting_request(ident, secret, attrs)

    return make


# How many sessions hold pass ``lap``'s counters, in each side's table.
APPLIED = {
    "ours": "SELECT count(*) FROM sessions_open WHERE input_octets >= %s",
    "stock": "SELECT count(*) FROM radacct WHERE AcctInputOctets >= %s"
             " AND AcctStopTime IS NULL",
}
APPLIED["live"] = APPLIED["ours"]


def wait_applied(conn: psycopg.Connection, side: str, lap: int, target: int,
                 timeout: float = 600.0) -> int:
    """Poll the table until ``target`` sessions hold the pass (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = conn.execute(APPLIED[side], (lap * 1000,)).fetchone()[0]
        if found >= target or time.monotonic() >= deadline:
            return found
        time.sleep(0.02)


def db_env(pg) -> dict[str, str]:
    return {"EBS_DB_HOST": "127.0.0.1", "EBS_DB_PORT": str(pg.port), "EBS_DB_NAME": DB,
            "EBS_DB_USER": pg.user, **db_roles.settings_env(pg.secrets, pg.user)}


@dataclass
class Figures:
    """Per side: applied updates per second of each run, and ours' ack rate and lag."""

    rates: dict[str, list[float]] = field(
        default_factory=lambda: {"ours": [], "stock": [], "live": []})
    ack: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    lost: dict[str, int] = field(default_factory=lambda: {"ours": 0, "stock": 0, "live": 0})
    short: dict[str, int] = field(default_factory=lambda: {"ours": 0, "stock": 0, "live": 0})


def measure(side: str, server, conn: psycopg.Connection, lap: int, accounts: int,
            seconds: float, figures: Figures) -> float:
    """One pass: up to ``accounts`` interims (one per session) for at most ``seconds``,
    64 in flight; applied/s counts until the last answered one is in the table."""
    result = run_load(("127.0.0.1", server.acct_port), packet_maker(lap), seconds=seconds,
                      window=WINDOW, limit=accounts, round_size=accounts, timeout=3.0)
    answered_at = time.perf_counter()
    if result.codes[ACCOUNTING_RESPONSE] != result.answered:
        raise RuntimeError(f"{side}: {dict(result.codes)}")
    found = wait_applied(conn, side, lap, result.answered)
    lag = time.perf_counter() - answered_at
    if side != "ours":
        lag = 0.0  # rlm_sql answers after its commit: nothing is left to wait for
    figures.lost[side] += result.lost
    figures.short[side] += max(0, result.answered - found)
    rate = min(found, result.answered) / (result.seconds + lag)
    figures.rates[side].append(rate)
    note = ""
    if side == "ours":
        figures.ack.append(result.rate)
        figures.lag.append(lag)
        note = f", answered at {result.rate:,.0f}/s, last applied {lag:.2f} s after"
    say(f"  {side}: {rate:,.0f} updates/s applied ({result.answered} in "
        f"{result.seconds + lag:.1f} s, p99 answer {result.percentile(0.99) * 1000:.1f} ms"
        f"{note})")
    return rate


_SESSION_OCTETS = ("SELECT input_octets FROM sessions_open WHERE acct_unique_id = md5('b'"
                   " || lpad(%(g)s, 7, '0') || ',s' || %(g)s || ',' || %(nas)s || ',,,'"
                   " || %(g)s)")


def idle_lag(ours, conn: psycopg.Connection, lap: int, samples: int = 15) -> list[float]:
    """Seconds from the answer to the applied row for one packet at a time (the follower
    idle, looking every 0.1 s): the lag a NAS's packet sees on a quiet system."""
    make = packet_maker(lap)
    lags = []
    for seq in range(samples):
        result = run_load(("127.0.0.1", ours.acct_port), lambda _s, ident, n=seq: make(n, ident),
                          seconds=5, window=1, limit=1, round_size=1, timeout=3.0)
        answered = time.perf_counter()
        if result.answered != 1:
            raise RuntimeError(f"idle lag: packet {seq} unanswered")
        while conn.execute(_SESSION_OCTETS, {"nas": NAS_IP, "g": str(seq + 1)}
                           ).fetchone()[0] < lap * 1000:
            time.sleep(0.002)
        lags.append(time.perf_counter() - answered)
    return lags


def outage(pg, ours, conn_factory, accounts: int, lap: int) -> dict:
    """PostgreSQL stopped while the NAS sends a pass; back, the follower catches up."""
    pg.stop()
    result = run_load(("127.0.0.1", ours.acct_port), packet_maker(lap), seconds=3600,
                      window=WINDOW, limit=accounts, round_size=accounts, timeout=3.0)
    say(f"  database down: {result.answered} answered at {result.rate:,.0f}/s "
        f"({result.lost} lost); starting it")
    pg.start()
    started = time.perf_counter()
    with conn_factory() as conn:
        found = wait_applied(conn, "ours", lap, result.answered)
    took = time.perf_counter() - started
    say(f"  caught up: {found} sessions hold the pass {took:.2f} s after the restart")
    return {"outage_answered": result.answered, "outage_lost": result.lost,
            "outage_answer_per_s": round(result.rate),
            "outage_catch_up_s": round(took, 2),
            "outage_catch_up_per_s": round(found / took) if took else None,
            "outage_sessions_applied": found}


def run(accounts: int = 100_000, seconds: float = 10.0, runs: int = 3,
        workdir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ebs-bench-radius-acct-", dir=workdir) as tmp:
        base = Path(tmp)
        say(f"starting a private durable PostgreSQL, {accounts} open sessions")
        pg = start_postgres(base / "pg")
        servers: list = []
        drainer = None
        try:
            with connect(pg) as conn:
                seed(conn, accounts)
            say("starting FreeRADIUS: ours (spool mode + follower), stock rlm_sql, "
                "ours in live mode")
            ours = radius_server(base / "ours", pg, accounting_mode="spool")
            servers.append(ours)
            stock = radius_server(base / "stock" / "conf", pg, baseline_templates(
                base / "stock", STOCK_SITE,
                {"mods-config/sql/accounting.conf": STOCK_QUERIES},
                drop=("mods-enabled/ebs",)))
            servers.append(stock)
            live = radius_server(base / "live", pg, accounting_mode="live")
            servers.append(live)
            spool = ours.radacct_dir / "spool"
            drainer = acct_drainer(spool, base / "run", base / "log", env=db_env(pg))
            drainer.start()
            figures = Figures()
            lap = 1

            def one_run(r: int) -> float:
                nonlocal lap
                say(f"run {r + 1} of {runs}")
                lap += 1
                with connect(pg) as conn:
                    measure("stock", stock, conn, lap, accounts, seconds, figures)
                    return measure("ours", ours, conn, lap, accounts, seconds, figures)

            started = time.monotonic()
            ours_rate, _ = median_of(runs, one_run)
            stock_rate = statistics.median(figures.rates["stock"])
            say("ours in live mode (rlm_sql per packet), one run for comparison")
            lap += 1
            with connect(pg) as conn:
                measure("live", live, conn, lap, accounts, seconds, figures)
            lap += 1
            with connect(pg) as conn:
                quiet = idle_lag(ours, conn, lap)
            say(f"one packet at a time: applied {statistics.median(quiet) * 1000:.0f} ms "
                f"(median), {max(quiet) * 1000:.0f} ms (max) after its answer")
            say(f"outage: PostgreSQL stopped, up to {accounts} interims into the spool")
            lap += 1
            down = outage(pg, ours, lambda: connect(pg),
                          accounts, lap)
        finally:
            if drainer is not None:
                drainer.stop()
            for server in servers:
                server.stop()
            pg.stop()
    return {
        "bench": "radius-acct",
        "ours": round(ours_rate),
        "baseline": round(stock_rate),
        "ratio": round(ours_rate / stock_rate, 3),
        "unit": "updates/s applied",
        "better": "higher",
        "ours_is": "spool mode: FreeRADIUS writes the spool file and answers; the follower "
                   "(ebs acct drain --follow) applies ordered batches, durable commit each",
        "baseline_is": "stock rlm_sql PostgreSQL interim-update on radacct, durable commit "
                       "per packet before the answer",
        "ack_durability": "ours answers after a write() to the spool file (page cache, no "
                          "fsync); an update counts as applied only once committed "
                          "durably, as the baseline's",
        "accounts": accounts,
        "runs": runs,
        "seconds_per_run": seconds,
        "in_flight": WINDOW,
        "ours_runs": [round(x) for x in figures.rates["ours"]],
        "stock_runs": [round(x) for x in figures.rates["stock"]],
        "ours_answer_per_s": round(statistics.median(figures.ack)),
        "drain_lag_s": round(statistics.median(figures.lag), 3),
        "drain_lag_max_s": round(max(figures.lag), 3),
        "idle_lag_ms_median": round(statistics.median(quiet) * 1000),
        "idle_lag_ms_max": round(max(quiet) * 1000),
        "live_mode_per_s": round(figures.rates["live"][0]),
        "lost": figures.lost,
        "answered_not_applied": figures.short,
        **down,
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
