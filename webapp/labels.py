"""Stored codes as an operator reads them, in one place.

The database keeps codes (``AT_START``, ``pppoe``, ``inactive_charged``, a ledger kind, a
reject reason): stable, language-free, checked by constraints. A page shows the label of
the code in the operator's language, and a form's select offers the same labels, so each
map below serves the list and detail formatters and the form choices alike. A code
without a label reads as it is stored, so a new code shows up rather than disappearing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from billing.access import Reason

EMPTY = "—"
NOTHING_CHOSEN = _l("— not chosen —")

ACCOUNT_STATUSES = {
    "active": _l("Active"),
    "inactive_charged": _l("Inactive, charged"),
    "inactive_uncharged": _l("Inactive, not charged"),
    "suspended": _l("Suspended"),
}
ACCESS_TYPES = {
    "pppoe": "PPPoE", "pptp": "PPTP", "l2tp": "L2TP", "hotspot": "HotSpot",
    "dhcp": "DHCP", "ipoe": "IPoE",
}
CHARGE_METHODS = {
    "AT_START": _l("At the start of the period"),
    "AT_END": _l("At the end of the period"),
    "GRADUAL": _l("Gradually through the period"),
}
CHARGE_CONDITIONS = {
    "ALWAYS": _l("Always"),
    "LT": _l("Balance below the sum"),
    "LE": _l("Balance at most the sum"),
    "EQ": _l("Balance equal to the sum"),
    "GE": _l("Balance at least the sum"),
    "GT": _l("Balance above the sum"),
}
PERIOD_UNITS = {
    "MONTH": _l("Month"), "WEEK": _l("Week"), "DAY": _l("Day"), "YEAR": _l("Year"),
    "SECONDS": _l("A number of seconds"),
}
REPEATS = {
    "DAY": _l("Every day"), "WEEK": _l("Every week"), "MONTH": _l("Every month"),
    "YEAR": _l("Every year"), "NEVER": _l("Never"),
}
POOL_KINDS = {
    "ipv4_vpn": _l("IPv4 for VPN (PPP)"),
    "ipv4_ipn": _l("IPv4 for IPoE / DHCP"),
    "ipv6_prefix": _l("IPv6 prefixes"),
}
NAS_VENDORS = {
    "mikrotik": "MikroTik", "cisco": "Cisco", "juniper": "Juniper",
    "accel-ppp": "accel-ppp", "other": _l("Other"),
}
LEASE_STATES = {"reserved": _l("Held by a RADIUS node"), "offered": _l("Offered"),
                "active": _l("Active"), "free": _l("Free")}
LEDGER_KINDS = {
    "payment": _l("Payment"),
    "correction": _l("Manual correction"),
    "reversal": _l("Reversal"),
    "charge_periodic": _l("Periodic service"),
    "charge_onetime": _l("One-time service"),
    "charge_fill_up": _l("Fill-up to package cost"),
    "charge_traffic": _l("Traffic"),
    "charge_time": _l("Time"),
    "charge_suspension": _l("Suspension"),
    "charge_tariff_change": _l("Tariff change"),
    "promised_payment": _l("Promised payment"),
    "promised_payment_close": _l("Promised payment closed"),
    "transfer": _l("Balance transfer"),
}
COA_KINDS = {"disconnect": _l("Disconnect"), "coa": _l("Change of authorization")}
COA_STATES = {"sending": _l("Sending"), "done": _l("Done")}
COA_RESULTS = {"ACK": _l("Accepted by the NAS"), "NAK": _l("Refused by the NAS"),
               "timeout": _l("No answer"), "error": _l("Error")}
COA_DESIRED_STATES = {"guest": _l("Guest access"), "disconnected": _l("Disconnected"),
                      "speed:none": _l("Speed without a limit")}
HISTORY_SUBJECTS = {"status": _l("Status"), "blocked_by_balance": _l("Blocked for the balance"),
                    "blocked_by_limit": _l("Blocked by a traffic limit")}
ACTORS = {"subscriber": _l("Subscriber"), "staff": _l("Staff"), "system": _l("System"),
          "direct": _l("Directly in the database")}
SUSPENSION_ENDS = {"max_days": _l("The longest suspension passed"),
                   "requested": _l("Resumed on request")}
PROMISE_CLOSES = {"paid": _l("Paid"), "expired": _l("Expired")}
REPLY_WHEN = {"accept": _l("Access granted"), "guest": _l("Guest pool"),
              "always": _l("Always")}
TRAFFIC_DIRECTIONS = {"in": _l("Incoming"), "out": _l("Outgoing"), "both": _l("Both ways")}
GROUP_RULES = {"sum": _l("Sum of its classes"), "max": _l("The largest of its classes")}
# What a traffic limit does past its megabytes (tariff_traffic_limits).
LIMIT_ACTIONS = {"block": _l("Block"), "speed": _l("Change the speed")}
LIMIT_SPEED_MODES = {"absolute": _l("This speed"), "add": _l("Added to the tariff's speed"),
                     "percent": _l("A percentage of the tariff's speed")}
# Why traffic was not charged to anybody: the rater's traffic_rejects and the
# collector's flow_rejects.
TRAFFIC_REJECT_REASONS = {"no_holder": _l("Address held by nobody"),
                          "no_direction": _l("No direction"),
                          "zero_bytes": _l("Record without bytes"),
                          "unknown_exporter": _l("Unknown exporter")}
# RADIUS accounting against the collector's flows (traffic_reconciliation): what was
# compared, and what the comparison found.
RECONCILE_KINDS = {"session": _l("Session"), "exporter": _l("Exporter (NAS) hour")}
RECONCILE_STATES = {"mismatch": _l("Figures differ"), "silent": _l("Exporter silent"),
                    "open": _l("Hour not over yet"), "ok": _l("Figures agree")}
TARIFF_CHANGE_EFFECTIVE = {"NOW": _l("Now"), "NEXT_PERIOD": _l("From the next period")}
TARIFF_CHANGE_STATUSES = {"pending": _l("Pending"), "applied": _l("Applied"),
                          "cancelled": _l("Cancelled")}
AUDIT_ACTIONS = {
    "add": _l("Added"), "edit": _l("Changed"), "delete": _l("Deleted"),
    "payment": _l("Payment"), "tariff_change": _l("Tariff change"),
    "suspend": _l("Suspension"), "resume": _l("Resumption"), "kick": _l("Disconnect"),
    "status": _l("Status change"), "password": _l("Password change"),
    "promise": _l("Promised payment"), "login_refused": _l("Login refused"),
    "lockout": _l("Login locked"), "correction": _l("Manual correction"),
    "transfer": _l("Balance transfer"),
}
REJECT_REASONS = {
    Reason.OK: _l("Accepted"),
    Reason.UNKNOWN_LOGIN: _l("Unknown login"),
    Reason.WRONG_PASSWORD: _l("Wrong password"),
    Reason.ACCOUNT_DISABLED: _l("Account disabled"),
    Reason.ACCOUNT_SUSPENDED: _l("Account suspended"),
    Reason.TARIFF_INACTIVE: _l("Tariff inactive"),
    Reason.WRONG_ACCESS_TYPE: _l("Wrong access type"),
    Reason.WRONG_NAS: _l("Wrong NAS"),
    Reason.MAC_MISMATCH: _l("MAC address mismatch"),
    Reason.IP_MISMATCH: _l("IP address mismatch"),
    Reason.OUTSIDE_ACCESS_WINDOW: _l("Outside the access time"),
    Reason.BLOCKED_BY_LIMIT: _l("Blocked by a traffic limit"),
    Reason.BLOCKED_BY_BALANCE: _l("Blocked for the balance"),
    Reason.BALANCE_NEGATIVE: _l("Negative balance"),
    Reason.BALANCE_ZERO: _l("Zero balance"),
    Reason.SIMULTANEOUS_USE: _l("Already online (simultaneous use)"),
    Reason.POOL_EXHAUSTED: _l("IP pool exhausted"),
    Reason.DB_UNAVAILABLE: _l("Database unavailable"),
    Reason.DEGRADED: _l("Accepted while the database was away"),
    Reason.BAD_REQUEST: _l("Malformed request"),
    Reason.INTERNAL_ERROR: _l("Internal error"),
}
COA_REASONS = {
    **REJECT_REASONS,
    "admin": _l("Disconnected by an operator"),
    "speed_changed": _l("The tariff's speed changed"),
    "time_of_day_speed": _l("Speed by time of day"),
}
# Texts billing writes into a ledger row's description when nobody typed one: stored as
# written (English, language-free), read in the operator's language.
LEDGER_DESCRIPTIONS = {
    "Payment through the API": _l("Payment through the API"),
    "Promised payment": _l("Promised payment"),
}

# Every map by what it names: the crawl test denies each code on a Russian page.
CODE_MAPS: dict[str, Mapping] = {
    "account_status": ACCOUNT_STATUSES, "access_type": ACCESS_TYPES,
    "charge_method": CHARGE_METHODS, "charge_condition": CHARGE_CONDITIONS,
    "period_unit": PERIOD_UNITS, "repeat": REPEATS, "pool_kind": POOL_KINDS,
    "nas_vendor": NAS_VENDORS, "lease_state": LEASE_STATES, "ledger_kind": LEDGER_KINDS,
    "coa_kind": COA_KINDS, "coa_state": COA_STATES, "coa_result": COA_RESULTS,
    "coa_desired_state": COA_DESIRED_STATES, "history_subject": HISTORY_SUBJECTS,
    "actor": ACTORS, "suspension_end": SUSPENSION_ENDS, "promise_close": PROMISE_CLOSES,
    "reply_when": REPLY_WHEN, "tariff_change_effective": TARIFF_CHANGE_EFFECTIVE,
    "tariff_change_status": TARIFF_CHANGE_STATUSES, "audit_action": AUDIT_ACTIONS,
    "reject_reason": REJECT_REASONS, "coa_reason": COA_REASONS,
    "traffic_direction": TRAFFIC_DIRECTIONS, "group_rule": GROUP_RULES,
    # A limit's action ("block", "speed") is left out: FAB's role page names the
    # permission "change speed", which the crawl would take for the code.
    "limit_speed_mode": LIMIT_SPEED_MODES,
}


def titled(pattern, what) -> LazyString:
    """A page title made of a pattern and a name, both translated when the page renders."""
    return LazyString(lambda: str(pattern) % {"what": str(what)})


def yes_no(value) -> str:
    """A yes/no column in words; an unknown (NULL) one empty."""
    if value is None:
        return EMPTY
    return gettext("Yes") if value else gettext("No")


def label(mapping: Mapping, code) -> str:
    """The label of ``code`` in ``mapping``; an unknown code as stored, NULL as a dash."""
    if code is None or code == "":
        return EMPTY
    return str(mapping.get(code, code))


def formatter(mapping: Mapping) -> Callable[[object], str]:
    """A ``formatters_columns`` entry for a column holding codes of ``mapping``."""
    return lambda code: label(mapping, code)


def choices(mapping: Mapping, only=None) -> list[tuple[str, object]]:
    """Select choices in the map's order (``only``: a subset of codes, in its order)."""
    codes = only if only is not None else list(mapping)
    return [(code, mapping[code]) for code in codes]


def history_value(value: str | None) -> str:
    """A status history's was/became: a status by its label, a block as yes or no."""
    if value in ("true", "false"):
        return yes_no(value == "true")
    return label(ACCOUNT_STATUSES, value)


def coa_desired_state(code: str | None) -> str:
    """What a CoA request leads to: a named state, or the speed it sets."""
    if code and code.startswith("speed:") and code not in COA_DESIRED_STATES:
        return str(_l("Speed %(speed)s")) % {"speed": code.removeprefix("speed:")}
    return label(COA_DESIRED_STATES, code)


def ledger_description(text: str | None) -> str:
    """A ledger row's description: a text billing wrote in the operator's language, the
    automatic transfer note with its account, anything typed by a person as typed."""
    if not text:
        return EMPTY
    known = LEDGER_DESCRIPTIONS.get(text)
    if known is not None:
        return str(known)
    for prefix, message in (("Transfer to account ", _l("Transfer to account %(account)s")),
                            ("Transfer from account ", _l("Transfer from account %(account)s"))):
        rest = text.removeprefix(prefix)
        if rest != text and rest.isdigit():
            return str(message) % {"account": rest}
    return text


def plain(value) -> str:
    """Any value in words: empty as a dash, yes/no, a list joined by commas."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


DETAIL_KEYS = {"source": _l("Source"), "gateway": _l("Payment system"),
               "transaction": _l("Transaction"), "receipt": _l("Receipt")}


def plain_mapping(value) -> Markup:
    """A JSON object of details as lines of "name: value", never Python's dict syntax."""
    if not value:
        return escape(EMPTY)
    if not isinstance(value, dict):
        return escape(plain(value))
    return Markup("<br>").join(
        Markup("{}: {}").format(str(DETAIL_KEYS.get(key, key)), plain(item))
        for key, item in value.items())


def audit_diff(before: dict | None, after: dict | None,
               field_label: Callable[[str], str] = str,
               field_value: Callable[[str, object], str] | None = None) -> Markup:
    """An audit entry's change as a reader wants it: one line per field that changed,
    its label, what it was and what it became (a new object shows what it became, a
    deleted one what it was)."""
    before, after = before or {}, after or {}
    value = field_value or (lambda _key, item: plain(item))
    lines = []
    for key in list(dict.fromkeys([*before, *after])):
        was, became = before.get(key), after.get(key)
        if key in before and key in after and was == became:
            continue
        name = escape(field_label(key))
        if key not in before:
            lines.append(Markup("{}: {}").format(name, value(key, became)))
        elif key not in after:
            lines.append(Markup("{}: {}").format(name, value(key, was)))
        else:
            lines.append(Markup("{}: {} → {}").format(name, value(key, was),
                                                      value(key, became)))
    return Markup("<br>").join(lines) if lines else escape(EMPTY)


# billing.speeds' refusals (SpeedError codes) and the parts of a speed they name.
SPEED_PARTS = {
    "rate": _l("rate"), "burst rate": _l("burst rate"),
    "burst threshold": _l("burst threshold"), "burst time": _l("burst time"),
    "priority": _l("priority"), "minimum rate": _l("minimum rate"),
}
SPEED_ERRORS = {
    "not_a_rate": _l("%(text)s is not a rate (digits with an optional k, M or G)"),
    "not_whole_bits": _l("the rate %(text)s is not a whole number of bit/s"),
    "not_positive": _l("the maximum rates must be above zero, not %(rx)s/%(tx)s"),
    "one_direction": _l("%(part)s: give both directions or neither"),
    "needs_before": _l("%(part)s needs the %(before)s before it"),
    "negative": _l("%(part)s cannot be negative"),
    "priority_range": _l("the priority is 1 to 8, not %(priority)s"),
    "empty": _l("the speed is empty"),
    "too_many_parts": _l("at most 6 parts"),
    "priority_not_number": _l("the priority %(text)s is not a number"),
    "not_seconds": _l("%(text)s is not a number of seconds"),
    "not_a_pair": _l("%(part)s: rx/tx or one value, not %(text)s"),
}


def speed_error(error) -> str:
    """A ``billing.speeds.SpeedError`` in the operator's language."""
    params = {key: (str(SPEED_PARTS.get(value, value)) if key in ("part", "before") else value)
              for key, value in error.params.items()}
    text = str(SPEED_ERRORS.get(error.code, error.code)) % params
    if error.within:
        return f"{SPEED_PARTS.get(error.within, error.within)}: {text}"
    return text
