"""Settings: defaults here, overridden by an operator's ``settings_local.py`` and ``EBS_*``.

The override file is plain Python, as in ExpertBilling, so an operator's existing file
(``GETPAID_BACKENDS``, ``SENDSMS_BACKENDS`` …) keeps working. It is the file named by the
``EBS_SETTINGS`` environment variable, else ``/etc/ebs/settings_local.py`` (an installed
system), else the checkout's own ``settings_local.py`` (the local stack), and never one in
the current directory: a command must not change its database by where it was started.
Secrets may instead come from the environment: ``EBS_DB_PASSWORD`` overrides
``DB_PASSWORD`` and so on for every upper-case name defined below. ``docs/settings.md``
lists every setting; a test keeps it equal to :data:`DEFAULTS`.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from billing import reject_messages
from billing.money import MoneyError, to_money

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_SETTINGS = Path("/etc/ebs/settings_local.py")
CHECKOUT_SETTINGS = PROJECT_ROOT / "settings_local.py"

DEFAULTS: dict[str, Any] = {
    # Where the local stack keeps its data, sockets, logs and pid files.
    "STATE_DIR": str(PROJECT_ROOT / "var"),
    # The ISP's timezone: calendar maths (months, days, access windows) happen in it.
    "TIME_ZONE": "Europe/Moscow",
    "CURRENCY": "RUB",
    # The ISP as its receipts name it: the name, and the requisites below it (address,
    # INN/KPP, phone), one per line.
    "ISP_NAME": "Demo ISP LLC",
    "ISP_DETAILS": "1 Example Street, Moscow\nINN 7700000000, KPP 770001001\n"
                   "+7 495 000-00-00",
    # The largest payment (or correction, either way) one posting may carry, in CURRENCY:
    # a bigger sum is a typing error far more often than money. Written as a string (or
    # a Decimal), never a float; load() turns both into Decimals.
    "PAYMENT_MAX_AMOUNT": "100000.00",
    # Above this sum the cashier's desk asks the operator to confirm before posting.
    "PAYMENT_CONFIRM_ABOVE": "10000.00",
    # PostgreSQL. An empty DB_HOST means the Unix socket under STATE_DIR/run.
    "DB_HOST": "127.0.0.1",
    "DB_PORT": 55432,
    "DB_NAME": "ebs",
    # The owner role: runs the migrations and the `ebs` command, owns every object.
    "DB_USER": "ebs",
    "DB_PASSWORD": "",
    # A file holding the owner's password when DB_PASSWORD is empty; empty:
    # STATE_DIR/secrets/db-<DB_USER>.password (none there: the socket's peer login).
    "DB_PASSWORD_FILE": "",
    # Each component's own login role and its password file (generated at set-up, mode
    # 0600; empty: STATE_DIR/secrets/db-<role>.password). The migrations grant to these
    # role names; another name must be a member of the one it replaces.
    "DB_WEB_USER": "ebs_web",
    "DB_WEB_PASSWORD_FILE": "",
    "DB_WORKER_USER": "ebs_worker",
    "DB_WORKER_PASSWORD_FILE": "",
    "DB_RADIUS_USER": "ebs_radius",
    "DB_RADIUS_PASSWORD_FILE": "",
    "DB_ACCT_USER": "ebs_acct",
    "DB_ACCT_PASSWORD_FILE": "",
    "DB_FLOW_USER": "ebs_flow",
    "DB_FLOW_PASSWORD_FILE": "",
    "DB_REPORTS_USER": "ebs_reports",
    "DB_REPORTS_PASSWORD_FILE": "",
    # A streaming replica (`ebs db replica setup`) the web app's reports, dashboard and
    # traffic statistics read from, as DB_WEB_USER in read-only transactions; empty host:
    # they read the primary. Port 0: DB_PORT + 1 (the local stack's replica). A replica
    # that does not answer, is no standby or replays more than DB_REPLICA_MAX_LAG_SECONDS
    # behind is left for the primary (the web log says so) and tried again
    # DB_REPLICA_RETRY_SECONDS later.
    "DB_REPLICA_HOST": "",
    "DB_REPLICA_PORT": 0,
    "DB_REPLICA_MAX_LAG_SECONDS": 30,
    "DB_REPLICA_RETRY_SECONDS": 10,
    # PgBouncer before PostgreSQL (billing/db_pooler.py, docs/scaling.md): the components
    # named here (of web, worker, radius, acct, reports; nfacctd always connects directly)
    # connect to it instead, with the same database, role and password; DB_POOLER_PORT 0:
    # nobody does.
    "DB_POOLER_HOST": "127.0.0.1",
    "DB_POOLER_PORT": 0,
    "DB_POOLER_COMPONENTS": "radius",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": 56379,
    "REDIS_DB": 0,
    # Redis's password (requirepass): the broker carries it in its URL. Empty: the one in
    # REDIS_PASSWORD_FILE (empty: STATE_DIR/secrets/redis.password), which the local
    # stack generates once, readable by its owner only.
    "REDIS_PASSWORD": "",
    "REDIS_PASSWORD_FILE": "",
    # One beat runs the schedule however many are started (on one host or several): it
    # holds a lock in Redis, renewed every BEAT_LOCK_SECONDS / 5; a beat waiting for it
    # takes over within BEAT_LOCK_SECONDS of the holder's death.
    "BEAT_LOCK_SECONDS": 30,
    # How far ahead of the worker's clock a task posted through the broker may name its
    # moment (ebs.charge_tick's ``at``): clocks of two hosts differ a little, a moment
    # further ahead is refused (``ebs charge --at`` is free to name any).
    "TASK_CLOCK_SKEW_SECONDS": 120,
    # The local stack listens on loopback; a production box sets its NAS-facing address.
    "RADIUS_LISTEN_IP": "127.0.0.1",
    "RADIUS_AUTH_PORT": 11812,
    "RADIUS_ACCT_PORT": 11813,
    # Who runs FreeRADIUS: empty, the local stack (`ebs up`), whose server a NAS change
    # restarts directly; a systemd unit's name ("freeradius.service", set by `ebs install`),
    # restarted through systemd on an installed system.
    "RADIUS_SERVICE": "",
    # Who runs nfacctd: empty, the local stack, whose collector the worker restarts itself
    # when its plugins change; a systemd unit's name ("ebs-nfacctd.service", set by
    # `ebs install`), which the worker asks systemd to restart.
    "COLLECTOR_SERVICE": "",
    # Who runs the services: "local", the local stack of `ebs up`; "systemd", the units of
    # an installed system (`ebs install` writes it), which `ebs status` shows and
    # `ebs upgrade` stops and starts, and whose daily backup is a systemd timer run as
    # root (the beat's ebs.backup is for the local stack).
    "SERVICE_MANAGER": "local",
    # How accounting reaches PostgreSQL. "spool": FreeRADIUS writes each packet to the
    # spool file and answers, the follower (`ebs acct drain --follow`, started by
    # `ebs up`) applies it in ordered batches with durable commits: several times
    # rlm_sql's rate, a lag of a fraction of a second. "live": rlm_sql applies each
    # packet (a durable commit) before answering, the spool only when that fails.
    "RADIUS_ACCT_MODE": "spool",
    "RADIUS_AUTH_MODE": "spool",
    "RADIUS_NODE_NAME": "",
    "RADIUS_THREADS": 0,
    # Degraded mode: while PostgreSQL is away, a subscriber whose login FreeRADIUS saw
    # within RADIUS_DEGRADED_MAX_AGE_SECONDS logs in on the facts of that login (its
    # money, status, tariff, speed, password) with the address it held, logged with the
    # reason "degraded"; a debtor, a blocked or suspended account and anyone not
    # remembered are rejected db_unavailable. Each FreeRADIUS remembers at most
    # RADIUS_DEGRADED_MAX_ENTRIES subscribers in its memory. False: every login is
    # rejected while the database is away.
    "RADIUS_DEGRADED_MODE": True,
    "RADIUS_DEGRADED_MAX_AGE_SECONDS": 86400,
    "RADIUS_DEGRADED_MAX_ENTRIES": 200000,
    "NETFLOW_LISTEN_IP": "127.0.0.1",
    "NETFLOW_PORT": 12055,
    # The traffic rater (ebs.rate_traffic, `ebs traffic rate`): how far behind its
    # watermark it looks again for rows that arrived late (they are rated as a delta;
    # rows later than this are not read; each run re-reads this window's rows, so a wider
    # one costs every minute), and the minutes of bins one transaction rates.
    "FLOW_RATE_LATE_MINUTES": 15,
    "FLOW_RATE_CHUNK_MINUTES": 60,
    # Days the rater keeps each rated minute's group bytes (traffic_group_bins) for
    # `ebs traffic rerate`, which recomputes a settlement period only if all its bins are
    # kept: a monthly tariff needs 32 or more. The longest sliding window of a traffic
    # limit is kept in any case. A row per active subscriber, group and minute.
    "TRAFFIC_GROUP_BINS_KEEP_DAYS": 2,
    # Local days (today included) the traffic statistics are kept per hour; older hours
    # are summed per day of TIME_ZONE (ebs.traffic_stats_rollup, `ebs traffic rollup`).
    # 62: this month and the last are hourly. A row per active subscriber, group and hour.
    "TRAFFIC_STATS_HOURLY_KEEP_DAYS": 62,
    "WEB_LISTEN_IP": "127.0.0.1",
    "WEB_PORT": 8080,
    # The web app's session and token signing key; empty: one is generated once under
    # STATE_DIR/secrets and kept.
    "SECRET_KEY": "",
    # The web app behind HTTPS: session cookies are then sent over HTTPS only (Secure).
    "WEB_HTTPS": False,
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed; from
    # anyone else the header is ignored and the connection's address is the client's.
    "WEB_TRUSTED_PROXIES": [],
    # Who may scrape GET /metrics (Prometheus): addresses or networks, a list or a
    # comma-separated EBS_METRICS_NETWORKS; to anyone else the endpoint does not exist.
    "METRICS_NETWORKS": ["127.0.0.1/32", "::1/128"],
    # How long an API refresh token lives, in seconds (a day). A password change, a
    # deactivation or a source network the staff member may no longer use ends it sooner.
    "WEB_REFRESH_TOKEN_SECONDS": 86400,
    # Login attempts (UI form and API) a source address, and one login, may fail in a
    # moving window (Flask-Limiter's notation); the next attempt gets 429 until it moves.
    "WEB_LOGIN_RATE_LIMIT": "20 per 10 minutes",
    "WEB_LOGIN_RATE_LIMIT_PER_LOGIN": "10 per 10 minutes",
    # After this many failed passwords in a row a login is locked for
    # WEB_LOGIN_LOCKOUT_SECONDS, doubled for each further failure up to the maximum.
    "WEB_LOGIN_LOCKOUT_FAILURES": 5,
    "WEB_LOGIN_LOCKOUT_SECONDS": 60,
    "WEB_LOGIN_LOCKOUT_MAX_SECONDS": 3600,
    # Write FAB's permission and menu rows for every view at each start of the web app (a
    # few thousand statements). A second web node, or a node started after an upgrade
    # already synced them, may turn it off; the roles' grants are kept in step either way.
    "WEB_SYNC_PERMISSIONS": True,
    # The admin's and cabinet's language when the browser asks for none we speak.
    "LANGUAGE_CODE": "ru",
    # The words a subscriber reads when a login is refused, on a NAS marked to show an
    # Access-Reject's Reply-Message (the NAS form's "Reply-Message on reject"): reason
    # code → text, over the defaults in LANGUAGE_CODE (billing/reject_messages.py); an
    # empty text sends none for that reason. At most 253 bytes each in UTF-8.
    "RADIUS_REJECT_MESSAGES": {},
    # Where FreeRADIUS spools accounting in "spool" mode; empty: under STATE_DIR.
    "RADIUS_ACCT_SPOOL_DIR": "",
    # Days to keep the record of CoA and Disconnect requests (coa_requests); the daily
    # ebs.prune_coa deletes older finished ones, never the latest of a live session.
    "COA_RETENTION_DAYS": 90,
    # Months of closed sessions and of the auth log kept, dropped a whole month at a time
    # by the hourly beat task (billing/history_partitions.py); 0 keeps them for ever.
    # Set what your data-retention law names: nothing newer is ever dropped.
    "SESSIONS_HISTORY_KEEP_MONTHS": 36,
    "AUTH_LOG_KEEP_MONTHS": 12,
    # Days the collector's aggregated rows (flow_bins) and unknown exporters' counts are
    # kept; the hourly ebs.flow_partitions drops older days. Rating and re-rating read
    # them, the statistics outlive them.
    "FLOW_RETENTION_DAYS": 35,
    # Days raw flow rows (flow_raw: classes marked "store") are kept at least; a class's
    # own store_days, when longer, wins. For operators bound by a data-retention law.
    "FLOW_STORE_RETENTION_DAYS": 365,
    # The most cache entries one nfacctd plugin gets (about 0.4 kB each, allocated at
    # start). Each is sized for two minutes of every subscriber address in every class;
    # raise this when nfacctd's log says "Finished cache entries" (an error there).
    "FLOW_CACHE_ENTRIES_MAX": 2_000_003,
    # Bytes of the ring each nfacctd plugin reads its flows from (shared memory, per
    # plugin). The ring absorbs a plugin's pauses (its purge every minute, a busy CPU):
    # unbuffered, one flow takes 424 bytes, so 256 MiB holds ~630,000 flows (most of a
    # second at 800,000 flows/s). Zeroed at start, so resident: three plugins at least,
    # 768 MiB; under 100,000 flows/s, 64 MiB does.
    # A ring that wraps loses flows silently (pmacct warns only from the fourth time).
    "FLOW_PLUGIN_PIPE_BYTES": 256 * 1024 * 1024,
    # RADIUS against NetFlow (ebs.reconcile_traffic, `ebs traffic reconcile`): a session
    # or an exporter's hour is flagged when its accounting and flow bytes differ by more
    # than this percent of the larger figure and by at least FLOW_RECONCILE_MIN_BYTES
    # (below it nothing is flagged: a short session's headers and rounding are noise).
    "FLOW_RECONCILE_TOLERANCE_PERCENT": 10,
    "FLOW_RECONCILE_MIN_BYTES": 1048576,
    # An exporter whose sessions' counters grew within this many minutes while its flows
    # stopped longer ago is flagged silent.
    "FLOW_SILENT_EXPORTER_MINUTES": 10,
    # The key that encrypts CHAP cleartext passwords at rest; kept outside the database so
    # a dump alone reveals nothing. EBS_CREDENTIALS_KEY (64 hex digits) overrides the file;
    # an empty file name means STATE_DIR/secrets/credentials.key, which ebs up creates.
    "CREDENTIALS_KEY_FILE": "",
    "CREDENTIALS_KEY": "",
    # Express cards (billing/express_cards.py): after this many wrong PINs in a row an
    # account, and the source the attempts came from, may not try for
    # EXPRESS_CARD_LOCK_SECONDS, doubled for each further failure up to the maximum.
    "EXPRESS_CARD_PIN_FAILURES": 5,
    "EXPRESS_CARD_LOCK_SECONDS": 60,
    "EXPRESS_CARD_LOCK_MAX_SECONDS": 86400,
    # Backups (`ebs backup`, the daily ebs.backup): where archives go (empty:
    # STATE_DIR/backups), how many are kept there (0: all), the daily time in TIME_ZONE
    # (empty: no daily backup), and optional copies off this machine.
    "BACKUP_DIR": "",
    "BACKUP_KEEP": 7,
    "BACKUP_DAILY_AT": "03:30",
    "BACKUP_RSYNC_TARGET": "",
    "BACKUP_S3_BUCKET": "",
    "BACKUP_S3_PREFIX": "ebs/",
    "BACKUP_S3_ENDPOINT": "",
    "BACKUP_S3_REGION": "",
    "BACKUP_S3_ACCESS_KEY": "",
    "BACKUP_S3_SECRET_KEY": "",
    # Bank-statement import (`ebs payments import`, ebs.import_payments every 10 minutes):
    # the pattern.ini naming each source's folders and line format (empty:
    # STATE_DIR/payments/pattern.ini; none there: nothing to import), the directory its
    # relative folders are under (empty: the pattern file's own), and how many seconds a
    # file must lie unchanged before it is read (one still being copied is left alone).
    "PAYMENTS_IMPORT_PATTERN": "",
    "PAYMENTS_IMPORT_DIR": "",
    "PAYMENTS_IMPORT_MIN_AGE_SECONDS": 60,
    # Payment gateways and SMS, names as in ExpertBilling's settings.
    "GETPAID_BACKENDS": [],
    "GETPAID_BACKENDS_SETTINGS": {},
    "SENDSMS_BACKENDS": [],
    "SENDSMS_BACKENDS_SETTINGS": {},
    "SENDSMS_DEFAULT_BACKEND": None,
    "SENDSMS_IF_BALLANCE_AMOUNT": None,
    # Balance alerts (`ebs sms balance-alerts`, daily at SENDSMS_BALANCE_AT in TIME_ZONE,
    # as the guide's cron runs ballance_sms_messages at noon): True compares balance +
    # credit with the threshold (ExpertBilling compares the balance alone); one alert at
    # most every EVERY_DAYS days and MAX_TIMES times until the balance recovers.
    "SENDSMS_BALANCE_WITH_CREDIT": False,
    "SENDSMS_BALANCE_EVERY_DAYS": 1,
    "SENDSMS_BALANCE_MAX_TIMES": 3,
    "SENDSMS_BALANCE_AT": "12:00",
    # Notices the system sends by itself (`ebs sms events`, every few minutes): a payment
    # credited, a block by balance or limit, and "your money lasts N more days" when the
    # forecast falls to NOTIFY_FORECAST_DAYS (0: never).
    "NOTIFY_PAYMENTS": False,
    "NOTIFY_BLOCKS": False,
    "NOTIFY_FORECAST_DAYS": 0,
    # Subscribers' phone numbers are read in this region (ISO 3166 code; "8 916 …" is
    # Russian) and sent to the gateway in E.164; a number that is no mobile one is refused.
    "SENDSMS_PHONE_REGION": "RU",
    # Local hours (TIME_ZONE) when nothing is sent: "22:00-09:00"; empty: any hour.
    # Messages due then wait for the morning.
    "SENDSMS_QUIET_HOURS": "",
    # The most SMS parts one message may take (a Cyrillic part is 67 characters, a Latin
    # 153); a longer text is refused ("refuse") or cut to fit with "…" ("cut").
    "SENDSMS_MAX_PARTS": 4,
    "SENDSMS_TOO_LONG": "refuse",
    # Seconds a gateway (or the SMTP server) may take to answer; no answer in time is a
    # failure on the way there: the message is tried again later.
    "SENDSMS_TIMEOUT_SECONDS": 15,
    # E-mail to subscribers: the SMTP server (empty host: no e-mail), its login, the
    # security of the connection ("starttls", "ssl" or "none") and the From address.
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_SECURITY": "starttls",
    "SMTP_FROM": "",
    # A CA bundle the SMTP server's certificate is checked against (a relay with its own
    # CA); empty: the system's.
    "SMTP_CA_FILE": "",
}

# Backend names the guide spells two ways: its GETPAID_BACKENDS example lists
# "payments.simplaterminal" while the backend's settings key and URL say
# "payments.simpleterminal". Either spelling enables the one backend.
BACKEND_ALIASES = {"payments.simplaterminal": "payments.simpleterminal"}

_INT_SETTINGS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_BOOL_SETTINGS = {k for k, v in DEFAULTS.items() if isinstance(v, bool)}
_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False, "": False}


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; the message names it."""


def settings_file(environ: dict[str, str] | None = None) -> Path | None:
    """The override file in force: ``EBS_SETTINGS``, else the system's, else the
    checkout's; None when there is none (defaults and the environment only)."""
    env = os.environ if environ is None else environ
    named = env.get("EBS_SETTINGS")
    if named:
        path = Path(named)
        if not path.exists():
            raise SettingsError(f"settings file {path} (from EBS_SETTINGS) does not exist")
        return path
    for candidate in (SYSTEM_SETTINGS, CHECKOUT_SETTINGS):
        if candidate.exists():
            return candidate
    return None


def load(environ: dict[str, str] | None = None) -> SimpleNamespace:
    """Merge defaults, the override file and the environment into one namespace."""
    env = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    path = settings_file(env)
    if path is not None:
        try:
            found = runpy.run_path(str(path))
        except Exception as exc:  # the operator's file: report which one and why
            raise SettingsError(f"cannot load settings file {path}: {exc}") from exc
        values.update({k: v for k, v in found.items() if k.isupper()})
    for name in list(values):
        raw = env.get(f"EBS_{name}")
        if raw is None:
            continue
        if name in _INT_SETTINGS:
            try:
                values[name] = int(raw)
            except ValueError:
                raise SettingsError(f"EBS_{name} must be an integer, got {raw!r}") from None
        elif name in _BOOL_SETTINGS:
            if raw.strip().lower() not in _BOOL_WORDS:
                raise SettingsError(f"EBS_{name} must be yes or no (1/0, true/false), "
                                    f"got {raw!r}")
            values[name] = _BOOL_WORDS[raw.strip().lower()]
        else:
            values[name] = raw
    if not values["CREDENTIALS_KEY_FILE"]:
        values["CREDENTIALS_KEY_FILE"] = str(
            Path(values["STATE_DIR"]) / "secrets" / "credentials.key")
    if values["SERVICE_MANAGER"] not in ("local", "systemd"):
        raise SettingsError("SERVICE_MANAGER must be 'local' (the stack of `ebs up`) or "
                            f"'systemd' (an installed system), got {values['SERVICE_MANAGER']!r}")
    for name in ("RADIUS_ACCT_MODE", "RADIUS_AUTH_MODE"):
        if values[name] not in ("live", "spool"):
            raise SettingsError(f"{name} must be 'live' or 'spool', got {values[name]!r}")
    if "/" in values["RADIUS_NODE_NAME"]:
        raise SettingsError("RADIUS_NODE_NAME names this FreeRADIUS among the nodes: no '/'")
    _payment_amounts(values)
    try:
        values["RADIUS_REJECT_MESSAGES"] = reject_messages.checked_overrides(
            values["RADIUS_REJECT_MESSAGES"])
    except reject_messages.RejectMessageError as exc:
        raise SettingsError(f"RADIUS_REJECT_MESSAGES: {exc}") from None
    values["GETPAID_BACKENDS"] = _backend_names(values["GETPAID_BACKENDS"])
    values["GETPAID_BACKENDS_SETTINGS"] = _backend_settings(values["GETPAID_BACKENDS_SETTINGS"])
    _sendsms(values)
    return SimpleNamespace(**values)


def _payment_amounts(values: dict[str, Any]) -> None:
    """PAYMENT_MAX_AMOUNT and PAYMENT_CONFIRM_ABOVE as Decimals: positive sums of money,
    the threshold no higher than the maximum (else no payment would ever be confirmed)."""
    for name in ("PAYMENT_MAX_AMOUNT", "PAYMENT_CONFIRM_ABOVE"):
        raw = values[name]
        try:
            amount = to_money(raw)
        except MoneyError as exc:
            raise SettingsError(f"{name} must be a sum of money such as '10000.00' (a string, "
                                f"not a float): {exc}") from None
        if amount <= 0:
            raise SettingsError(f"{name} must be above zero, got {raw!r}")
        values[name] = amount
    if values["PAYMENT_CONFIRM_ABOVE"] > values["PAYMENT_MAX_AMOUNT"]:
        raise SettingsError(
            f"PAYMENT_CONFIRM_ABOVE ({values['PAYMENT_CONFIRM_ABOVE']}) is above "
            f"PAYMENT_MAX_AMOUNT ({values['PAYMENT_MAX_AMOUNT']})")


def _backend_names(names) -> list[str]:
    """Enabled backends by their one name, each once, in the operator's order."""
    out: list[str] = []
    for name in names or ():
        name = BACKEND_ALIASES.get(name, name)
        if name not in out:
            out.append(name)
    return out


def _backend_settings(by_name) -> dict[str, Any]:
    """Backend settings under their one name; the proper spelling wins over the alias."""
    out = dict(by_name or {})
    for alias, name in BACKEND_ALIASES.items():
        if alias in out:
            value = out.pop(alias)
            out.setdefault(name, value)
    return out


def _sendsms(values: dict[str, Any]) -> None:
    """The guide's SENDSMS_* lines as printed, and ours, checked once at load: a gateway
    no module speaks for, a settings entry that is not a dict, a threshold that is no sum
    of money or an unreadable quiet-hours span stop the load with the setting's name."""
    from billing.notifications import backends, quiet_hours

    pairs = []
    for item in values["SENDSMS_BACKENDS"] or ():
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise SettingsError("SENDSMS_BACKENDS holds (backend path, title) pairs such as "
                                f"('sendsms.backends.smsru.SmsBackend', 'sms.ru'), got {item!r}")
        path, title = item
        if path not in backends.SMS_BACKENDS:
            raise SettingsError(f"SENDSMS_BACKENDS: no SMS backend {path!r}; known: "
                                f"{', '.join(backends.SMS_BACKENDS)}")
        pairs.append((path, str(title)))
    values["SENDSMS_BACKENDS"] = pairs
    by_key = values["SENDSMS_BACKENDS_SETTINGS"] or {}
    if not isinstance(by_key, dict) or not all(isinstance(v, dict) for v in by_key.values()):
        raise SettingsError("SENDSMS_BACKENDS_SETTINGS maps a backend's module "
                            "('sendsms.backends.smsru') to a dict of its settings")
    values["SENDSMS_BACKENDS_SETTINGS"] = dict(by_key)
    default = values["SENDSMS_DEFAULT_BACKEND"]
    if default and default not in backends.SMS_BACKENDS:
        raise SettingsError(f"SENDSMS_DEFAULT_BACKEND: no SMS backend {default!r}; known: "
                            f"{', '.join(backends.SMS_BACKENDS)}")
    threshold = values["SENDSMS_IF_BALLANCE_AMOUNT"]
    if threshold is not None:
        try:
            values["SENDSMS_IF_BALLANCE_AMOUNT"] = to_money(threshold)
        except MoneyError as exc:
            raise SettingsError(f"SENDSMS_IF_BALLANCE_AMOUNT must be a sum such as 0 or "
                                f"'50.00' (not a float): {exc}") from None
    try:
        quiet_hours.parse(values["SENDSMS_QUIET_HOURS"])
    except ValueError as exc:
        raise SettingsError(f"SENDSMS_QUIET_HOURS: {exc}") from None
    if values["SENDSMS_TOO_LONG"] not in ("refuse", "cut"):
        raise SettingsError("SENDSMS_TOO_LONG is 'refuse' or 'cut', got "
                            f"{values['SENDSMS_TOO_LONG']!r}")
    if values["SENDSMS_MAX_PARTS"] < 1:
        raise SettingsError("SENDSMS_MAX_PARTS must be at least 1")
    if values["SMTP_SECURITY"] not in ("starttls", "ssl", "none"):
        raise SettingsError("SMTP_SECURITY is 'starttls', 'ssl' or 'none', got "
                            f"{values['SMTP_SECURITY']!r}")
    if values["SMTP_HOST"] and not values["SMTP_FROM"]:
        raise SettingsError("SMTP_FROM (the sender's address) is needed with SMTP_HOST")


# The components that log in with a role of their own (DB_<NAME>_USER).
COMPONENTS = ("web", "worker", "radius", "acct", "flow", "reports")


def database_role(settings: SimpleNamespace, component: str | None = None) -> tuple[str, str]:
    """The role and password ``component`` logs in with; None: the owner (DB_USER)."""
    if component is None:
        user, password, named = settings.DB_USER, settings.DB_PASSWORD, settings.DB_PASSWORD_FILE
    elif component in COMPONENTS:
        prefix = f"DB_{component.upper()}"
        user, password = getattr(settings, f"{prefix}_USER"), ""
        named = getattr(settings, f"{prefix}_PASSWORD_FILE")
    else:
        raise SettingsError(f"no database role for component {component!r}")
    if not password:
        path = Path(named) if named else (
            Path(settings.STATE_DIR) / "secrets" / f"db-{user}.password")
        try:
            password = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            if named:
                raise SettingsError(f"database password file {path} does not exist") from None
        except OSError as exc:
            raise SettingsError(f"cannot read database password file {path}: {exc}") from None
    return user, password


def database_conninfo(settings: SimpleNamespace, dbname: str | None = None,
                      component: str | None = None) -> str:
    """A libpq connection string for the configured database, as ``component``'s role
    (web, worker, radius, acct, flow, reports) or, without one, as the owner; through
    PgBouncer for a component DB_POOLER_COMPONENTS names (billing/db_pooler.py)."""
    from psycopg.conninfo import make_conninfo

    from billing import db_pooler

    host, port = db_pooler.address(settings, component)
    user, password = database_role(settings, component)
    params = {
        "host": host,
        "port": port,
        "dbname": dbname or settings.DB_NAME,
        "user": user,
        "application_name": f"ebs-{component}" if component else "ebs",
    }
    if password:
        params["password"] = password
    conninfo = make_conninfo(**params)
    if db_pooler.pooled(settings, component):
        return db_pooler.PooledConninfo(conninfo)  # billing.db.connect: no auto-prepare
    return conninfo


def replica_port(settings: SimpleNamespace) -> int:
    """The replica's port: DB_REPLICA_PORT, else the one after the primary's."""
    return int(settings.DB_REPLICA_PORT) or int(settings.DB_PORT) + 1


def redis_password_file(settings: SimpleNamespace) -> Path:
    """Where the Redis password is kept (``REDIS_PASSWORD_FILE``, else under STATE_DIR)."""
    named = getattr(settings, "REDIS_PASSWORD_FILE", "")
    return Path(named) if named else Path(settings.STATE_DIR) / "secrets" / "redis.password"


def redis_password(settings: SimpleNamespace) -> str:
    """``REDIS_PASSWORD`` (e.g. ``EBS_REDIS_PASSWORD``), else the password file's; empty
    when neither exists (Redis then refuses the connection: it always asks for one)."""
    if getattr(settings, "REDIS_PASSWORD", ""):
        return settings.REDIS_PASSWORD
    path = redis_password_file(settings)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise SettingsError(f"cannot read the Redis password file {path}: {exc}") from exc


def redis_url(settings: SimpleNamespace) -> str:
    """The broker's URL, its password included (so never printed or logged)."""
    password = redis_password(settings)
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{settings.REDIS_HOST}:{settings.REDIS_PORT}/{settings.REDIS_DB}"
