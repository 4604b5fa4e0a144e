"""The channels a message may leave by: ExpertBilling's SMS backend names, and e-mail.

An operator's ``settings_local.py`` names SMS gateways as ExpertBilling's guide prints
them: ``SENDSMS_BACKENDS`` holds (class path, title) pairs such as
``('sendsms.backends.smsru.SmsBackend', 'sms.ru')`` and ``SENDSMS_BACKENDS_SETTINGS`` keys
each gateway's settings by the class path's module (``'sendsms.backends.smsru'``). Those
names stay the operator's; this registry maps each to the module of ``worker/notify`` that
speaks to the provider. A message's ``backend`` column holds the guide's class path (or
``email``), so a row says where it went in the words of the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

EMAIL = "email"


@dataclass(frozen=True)
class Backend:
    name: str  # the guide's class path, or "email"
    channel: str  # "sms" or "email"
    module: str  # the worker module that speaks to the provider
    settings_key: str  # the key of SENDSMS_BACKENDS_SETTINGS (e-mail: the SMTP_* keys)
    title: str


REGISTRY: dict[str, Backend] = {
    backend.name: backend for backend in (
        Backend("sendsms.backends.smsru.SmsBackend", "sms", "worker.notify.smsru",
                "sendsms.backends.smsru", "sms.ru"),
        Backend("sendsms.backends.websms.SmsBackend", "sms", "worker.notify.websms",
                "sendsms.backends.websms", "websms.ru"),
        Backend("sendsms.backends.smspilotru.SmsBackend", "sms", "worker.notify.smspilot",
                "sendsms.backends.smspilotru", "smspilot.ru"),
        Backend(EMAIL, "email", "worker.notify.smtp", "SMTP", "e-mail (SMTP)"),
    )
}
SMS_BACKENDS = tuple(name for name, b in REGISTRY.items() if b.channel == "sms")


class UnknownBackend(LookupError):
    """A backend name no module speaks for, or one the operator has not enabled."""


def get(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownBackend(
            f"no SMS backend {name!r}; known: {', '.join(SMS_BACKENDS)}") from None


def enabled(settings: SimpleNamespace) -> list[str]:
    """The operator's SMS backends in SENDSMS_BACKENDS order, then e-mail when SMTP_HOST
    is set."""
    names = [path for path, _title in settings.SENDSMS_BACKENDS]
    if getattr(settings, "SMTP_HOST", ""):
        names.append(EMAIL)
    return names


def default_sms(settings: SimpleNamespace) -> str | None:
    """``SENDSMS_DEFAULT_BACKEND``, else the first of ``SENDSMS_BACKENDS``; None: no SMS."""
    if settings.SENDSMS_DEFAULT_BACKEND:
        return settings.SENDSMS_DEFAULT_BACKEND
    return settings.SENDSMS_BACKENDS[0][0] if settings.SENDSMS_BACKENDS else None


def config(name: str, settings: SimpleNamespace) -> dict[str, Any]:
    """The settings one backend is called with: its SENDSMS_BACKENDS_SETTINGS entry, or
    for e-mail the SMTP_* keys without their prefix."""
    backend = get(name)
    if backend.channel == "email":
        return {key[len("SMTP_"):]: getattr(settings, key)
                for key in vars(settings) if key.startswith("SMTP_")}
    return dict(settings.SENDSMS_BACKENDS_SETTINGS.get(backend.settings_key) or {})
