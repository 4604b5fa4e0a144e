"""The Reply-Message of an Access-Reject, for NASes that show it to the subscriber.

Only post-auth knows a reject's final reason: pap / chap / mschap refuse a password after
our authorize accepted, and the lease can find the pool full. So the site calls rlm_ebs's
post-auth hook from ``Post-Auth-Type REJECT``, and only when ``ebs_radius_check`` said the
NAS is marked for it (``EBS-Reject-Message``): every other reject costs no python call.
The texts (billing/reject_messages.py, in the ISP's language and wording) arrive once, in
the module's ``config { }`` as ``reject_message_<reason>`` items, percent-encoded so that
FreeRADIUS's config parser sees plain ASCII (``billing.reject_messages.config_items``,
written by stack/servers/freeradius.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from billing.reject_messages import from_config
from rlm_ebs.request import first, lists

__all__ = ["from_config", "post_auth"]

NOOP, UPDATED = 7, 8  # radiusd.RLM_MODULE_NOOP / UPDATED


def post_auth(p: object, texts: Mapping[str, str]) -> tuple[int, dict] | int:
    """The reject's text for its reason (``EBS-Reason``); nothing for a reason without
    one (the ISP emptied it, or the site sent no reason)."""
    reason = first(lists(p, only=("config",)).get("config", {}), "EBS-Reason")
    text = texts.get(reason or "")
    if not text:
        return NOOP
    return UPDATED, {"reply": (("Reply-Message", ":=", text),)}
