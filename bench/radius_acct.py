"""``ebs bench radius-acct``: Interim-Updates applied per second, ours vs stock rlm_sql.

N live sessions; the sender keeps 64 Interim-Updates in flight, cycling over them with
growing counters. Both sides commit durably on a private PostgreSQL and both answer the
NAS only once the update is in the database (or, for ours, in the spool):
  * ours: the production site: the detail file, then rlm_sql's pool running our
    interim UPDATE (ebs_acct_apply behind it), the spool when rlm_sql fails. Anything a
    run spooled is drained after it and the drain's time is added, so the figure is
    updates *applied* per second, not merely acknowledged;
  * baseline ("stock rlm_sql"): FreeRADIUS's shipped PostgreSQL accounting for an
    interim: the UPDATE of radacct by AcctUniqueId (then an INSERT when no row matched),
    on the shipped radacct table and indexes, with the same acct_unique key.
A third figure is the outage path: PostgreSQL stopped, one interim per session spooled
(the NAS still answered), PostgreSQL back, and the spool drained in batches
(``drain_updates_per_s``).
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from pathlib import Path

import psycopg

from bench.radius_common import (
    DB,
    NAS_IP,
    SECRET,
    WINDOW,
    baseline_templates,
    median_of,
    radius_server,
    say,
    start_postgres,
)
from bench.udp_sender import ACCOUNTING_RESPONSE, accounting_request, attribute, run_load
from billing import acct_spool

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

STOCK_SITE = """\
# The baseline: stock rlm_sql accounting (the shipped interim queries), nothing else.
server baseline {
	listen {
		type = auth
		ipaddr = {{ listen_ip }}
		port = {{ auth_port }}
	}
	listen {
		type = acct
		ipaddr = {{ listen_ip }}
		port = {{ acct_port }}
	}
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
}
"""

# The key FreeRADIUS's acct_unique policy computes for the packets below.
_UNIQUE = "md5('b' || lpad(g::text, 7, '0') || ',s' || g || ',' || %(nas)s || ',,,' || g)"


def seed(conn: psycopg.Connection, sessions: int) -> None:
    """N open sessions in both tables, started an hour ago with zero counters."""
    conn.execute(
        "INSERT INTO nas (name, vendor, ip_address, secret, acct_interim_interval)"
        " VALUES ('bench', 'mikrotik', %s, %s, 300)", (NAS_IP, SECRET))
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


def packet_maker(sessions: int, offset: int = 0):
    """Request k updates session k mod N with counters that grow every pass."""
    secret = SECRET.encode()
    fixed = (attribute(NAS_IP_ADDRESS, socket.inet_aton(NAS_IP))
             + attribute(ACCT_STATUS_TYPE, INTERIM_UPDATE))

    def make(seq: int, ident: int) -> bytes:
        n, lap = seq % sessions + 1, (seq + offset) // sessions + 1
        attrs = (attribute(USER_NAME, f"b{n:07d}") + attribute(ACCT_SESSION_ID, f"s{n}")
                 + attribute(NAS_PORT, n) + fixed
                 + attribute(ACCT_INPUT_OCTETS, lap * 1000)
                 + attribute(ACCT_OUTPUT_OCTETS, lap * 2000)
                 + attribute(ACCT_SESSION_TIME, lap * 60)
                 + attribute(EVENT_TIMESTAMP, int(time.time())))
        return accounting_request(ident, secret, attrs)

    return make


def _drain(pg, spool: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with psycopg.connect(pg.conninfo(DB)) as conn:
        result = acct_spool.drain(conn, spool)
    return result.applied + result.skipped, time.perf_counter() - started


def run(accounts: int = 100_000, seconds: float = 10.0, runs: int = 3,
        workdir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ebs-bench-radius-acct-", dir=workdir) as tmp:
        base = Path(tmp)
        say(f"starting a private durable PostgreSQL, {accounts} open sessions")
        pg = start_postgres(base / "pg")
        ours = stock = None
        try:
            with psycopg.connect(pg.conninfo(DB), autocommit=True) as conn:
                seed(conn, accounts)
            say("starting FreeRADIUS: ours (detail + rlm_sql ebs path + spool) and stock rlm_sql")
            ours = radius_server(base / "ours", pg)
            stock = radius_server(base / "stock" / "conf", pg, baseline_templates(
                base / "stock", STOCK_SITE,
                {"mods-config/sql/accounting.conf": STOCK_QUERIES},
                drop=("mods-enabled/ebs",)))
            spool = ours.radacct_dir / "spool"
            sent = {"ours": 0, "stock": 0}
            figures: dict[str, list[float]] = {"ours": [], "stock": [], "spooled": []}
            lost = {"ours": 0, "stock": 0}

            def measure(name: str, server) -> float:
                # A NAS retransmits after about 3 s: slower answers count as lost.
                result = run_load(("127.0.0.1", server.acct_port),
                                  packet_maker(accounts, sent[name]), seconds=seconds,
                                  window=WINDOW, timeout=3.0)
                sent[name] += result.sent
                lost[name] += result.lost
                if result.codes[ACCOUNTING_RESPONSE] != result.answered:
                    raise RuntimeError(f"{name}: {dict(result.codes)}")
                took, spooled = result.seconds, 0
                if name == "ours" and acct_spool.has_work(spool):
                    spooled, drain_took = _drain(pg, spool)
                    took += drain_took
                if name == "ours":
                    figures["spooled"].append(spooled)
                rate = result.answered / took
                figures[name].append(rate)
                say(f"  {name}: {rate:,.0f} updates/s applied ({result.answered} in "
                    f"{took:.1f} s, p99 {result.percentile(0.99) * 1000:.1f} ms"
                    + (f", {spooled} via the spool)" if spooled else ")"))
                return rate

            def one_run(r: int) -> float:
                say(f"run {r + 1} of {runs}")
                measure("stock", stock)
                return measure("ours", ours)

            started = time.monotonic()
            ours_rate, _ = median_of(runs, one_run)
            stock_rate = sorted(figures["stock"])[len(figures["stock"]) // 2]

            say(f"outage: PostgreSQL stopped, {accounts} interims into the spool")
            pg.stop()
            # One interim per session, all on the same new lap (counters above any run's).
            lap = -(-sent["ours"] // accounts) + 1
            outage = run_load(("127.0.0.1", ours.acct_port),
                              packet_maker(accounts, (lap - 1) * accounts),
                              seconds=3600, window=WINDOW, limit=accounts, timeout=3.0)
            pg.start()
            say(f"  spooled {outage.answered} at {outage.rate:,.0f}/s ({outage.lost} lost); "
                "draining")
            drained, drain_took = _drain(pg, spool)
            with psycopg.connect(pg.conninfo(DB)) as conn:
                current = conn.execute(
                    "SELECT count(*) FILTER (WHERE input_octets = %s), count(*)"
                    " FROM sessions_open", (lap * 1000,)).fetchone()
            say(f"  drained {drained} entries in {drain_took:.2f} s; "
                f"{current[0]} of {current[1]} sessions hold the last counters")
        finally:
            for server in (ours, stock):
                if server is not None:
                    server.stop()
            pg.stop()
    return {
        "bench": "radius-acct",
        "ours": round(ours_rate),
        "baseline": round(stock_rate),
        "ratio": round(ours_rate / stock_rate, 3),
        "unit": "req/s",
        "better": "higher",
        "baseline_is": "stock rlm_sql PostgreSQL interim-update on radacct, durable",
        "accounts": accounts,
        "runs": runs,
        "seconds_per_run": seconds,
        "in_flight": WINDOW,
        "ours_runs": [round(x) for x in figures["ours"]],
        "stock_runs": [round(x) for x in figures["stock"]],
        "ours_spooled_during_runs": figures["spooled"],
        "lost": lost,
        "outage_spool_ack_per_s": round(outage.rate),
        "outage_lost": outage.lost,
        "drain_updates_per_s": round(drained / drain_took) if drain_took else None,
        "drain_entries": drained,
        "sessions_with_last_counters": current[0],
        "sessions_open": current[1],
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
