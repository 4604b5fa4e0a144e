"""The Celery app: Redis broker, late acks, one beat. Tasks are thin: ids and times in,
``billing`` services do the work.

One beat: the schedule is celery-redbeat's, kept in Redis with a lock, so a beat started
twice (by hand, or on a second host running workers) waits for the lock instead of
doubling every tick, and takes over when the holder dies (``BEAT_LOCK_SECONDS``).

Late acknowledgement plus reject-on-worker-loss means a task whose worker dies is
delivered again; that is safe because every task is idempotent by database keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from celery import Celery
from celery.schedules import crontab

from billing import settings as settings_mod

_settings = settings_mod.load()

celery = Celery("ebs", include=["worker.tasks", "worker.charging_tasks", "worker.session_tasks",
                                "worker.nas_tasks", "worker.acct_drain_tasks",
                                "worker.coa_tasks", "worker.enforce_tasks",
                                "worker.totals_tasks", "worker.coa_retention",
                                "worker.backup_tasks", "worker.online_tasks",
                                "worker.traffic_tasks", "worker.flow_tasks",
                                "worker.session_rating_tasks", "worker.reconcile_tasks",
                                "worker.payment_import_tasks",
                                "worker.qiwi_invoice_tasks",
                                "worker.gateway_reconcile_tasks",
                                "worker.notification_tasks",
                                "worker.notification_event_tasks"])
celery.conf.update(
    broker_url=settings_mod.redis_url(_settings),
    result_backend=settings_mod.redis_url(_settings),
    result_expires=3600,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
    # Never long ETAs: with late acks Redis would redeliver them after the visibility
    # timeout. Work that is due later is found by the periodic tick instead.
    broker_transport_options={"visibility_timeout": 3600},
    worker_hijack_root_logger=False,
    beat_scheduler="redbeat.RedBeatScheduler",
    redbeat_redis_url=settings_mod.redis_url(_settings),
    redbeat_redis_options={},
    redbeat_key_prefix="ebs:beat",
    redbeat_lock_timeout=int(_settings.BEAT_LOCK_SECONDS),
    # The holder renews the lock at every wake-up; a waiting beat asks at the same pace.
    beat_max_loop_interval=max(1, int(_settings.BEAT_LOCK_SECONDS) // 5),
    beat_schedule={
        "health": {"task": "ebs.health", "schedule": 60.0},
        "charge-tick": {"task": "ebs.charge_tick", "schedule": 300.0},
        "sweep-sessions": {"task": "ebs.sweep_sessions", "schedule": 300.0},
        # Months of sessions_history and auth_log made ahead, expired months dropped.
        "history-partitions": {"task": "ebs.history_partitions", "schedule": 3600.0},
        # Live sessions follow their accounts' access (Disconnect / CoA); cheap when idle.
        "enforce-access": {"task": "ebs.enforce_access", "schedule": 60.0},
        # Old CoA/Disconnect records (COA_RETENTION_DAYS), once a day at a quiet hour.
        "prune-coa": {"task": "ebs.prune_coa", "schedule": crontab(hour=0, minute=40)},
        # Accounting FreeRADIUS spooled while PostgreSQL was away; a no-op when empty.
        "acct-drain": {"task": "ebs.acct_drain", "schedule": 10.0},
        # NAS edits send ebs.nas_changed themselves; this catches a lost message.
        "radius-clients": {"task": "ebs.nas_changed", "schedule": 60.0},
        # Report and dashboard totals are appended per statement; merged here.
        "fold-totals": {"task": "ebs.fold_totals", "schedule": 300.0},
        # Sessions online, one sample per five minutes, for the dashboard's day chart.
        "sample-online": {"task": "ebs.sample_online", "schedule": 300.0},
        # The collector's rows to traffic statistics and charges (flow/rater.py).
        "rate-traffic": {"task": "ebs.rate_traffic", "schedule": 60.0},
        # The sessions' accounting octets and time online to charges (flow/session_rater.py).
        "rate-sessions": {"task": "ebs.rate_sessions", "schedule": 60.0},
        # RADIUS accounting against the collector's flows (flow/reconcile.py).
        "reconcile-traffic": {"task": "ebs.reconcile_traffic", "schedule": 600.0},
        # The collector's day partitions: the coming days made, expired days dropped.
        "flow-partitions": {"task": "ebs.flow_partitions", "schedule": 3600.0},
        # Traffic statistics older than TRAFFIC_STATS_HOURLY_KEEP_DAYS summed per day.
        "traffic-stats-rollup": {"task": "ebs.traffic_stats_rollup", "schedule": 3600.0},
        # nfacctd follows edits of classes, pools and NAS (a no-op when nothing changed).
        "flow-collector": {"task": "ebs.flow_changed", "schedule": 60.0},
        # Bank statements waiting in pattern.ini's folders (billing/statement_import.py).
        "import-payments": {"task": "ebs.import_payments", "schedule": 600.0},
        # Open QIWI invoices asked for their status (billing/gateways/qiwi_invoices.py).
        "poll-qiwi-invoices": {"task": "ebs.poll_qiwi_invoices", "schedule": 300.0},
        # Gateway payments against the ledger (billing/gateway_payments.py): must be empty.
        "reconcile-gateway-payments": {"task": "ebs.reconcile_gateway_payments",
                                       "schedule": 86400.0},
        # Due SMS and e-mail to their providers, at most once (worker/notify/sender.py).
        "send-due-messages": {"task": "ebs.send_due_messages", "schedule": 60.0},
        # Delivery statuses of the day's sent messages, where the provider tells them.
        "poll-message-status": {"task": "ebs.poll_message_status", "schedule": 300.0},
        # Notices of payments credited and of blocks (billing/notifications/events.py).
        "sms-events": {"task": "ebs.sms_events", "schedule": 300.0},
    },
)


def _daily_at(hhmm: str, zone: str, setting: str = "BACKUP_DAILY_AT") -> crontab:
    """``HH:MM`` in the ISP's zone as the beat's UTC crontab, at today's offset (a change
    of summer time moves it by an hour until the beat restarts)."""
    try:
        hour, minute = (int(part) for part in hhmm.split(":"))
        local = datetime.now(ZoneInfo(zone)).replace(hour=hour, minute=minute)
    except ValueError:
        raise settings_mod.SettingsError(
            f"{setting} must be HH:MM, got {hhmm!r}") from None
    at = local.astimezone(UTC)
    return crontab(hour=at.hour, minute=at.minute)


if _settings.BACKUP_DAILY_AT and _settings.SERVICE_MANAGER == "local":
    # The database, the data folder and the settings (stack/backup.py). An installed
    # system runs it as root from ebs-backup.timer instead: the worker's account may not
    # read every secret the archive keeps.
    celery.conf.beat_schedule["backup"] = {
        "task": "ebs.backup",
        "schedule": _daily_at(_settings.BACKUP_DAILY_AT, _settings.TIME_ZONE)}

if _settings.SENDSMS_BALANCE_AT:
    # Low-balance alerts and the forecast's notices, once a day (as the guide's cron ran
    # ballance_sms_messages at noon).
    for _name, _task in (("sms-balance-alerts", "ebs.sms_balance_alerts"),
                         ("sms-forecast", "ebs.sms_forecast")):
        celery.conf.beat_schedule[_name] = {
            "task": _task,
            "schedule": _daily_at(_settings.SENDSMS_BALANCE_AT, _settings.TIME_ZONE,
                                  "SENDSMS_BALANCE_AT")}
