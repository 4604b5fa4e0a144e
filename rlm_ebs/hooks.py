"""The FreeRADIUS glue: the only module that imports ``radiusd``. One function per section.

Loaded by the single ``python3`` instance ``ebs`` (freeradius_conf/mods-enabled/ebs) with
``pass_all_vps_dict = yes``. Only the standard library is imported at module level:
``instantiate`` first puts the virtualenv's site-packages ahead of Debian's dist-packages
(``python_path`` is appended after them, STACK-FACTS.md), then loads ``rlm_ebs.core``.
No connection is opened anywhere: rlm_sql fetches the facts (rlm_ebs/facts.py).
"""

from __future__ import annotations

import sys
import traceback
from zoneinfo import ZoneInfo

try:
    import radiusd  # provided by rlm_python3 inside FreeRADIUS
except ImportError:  # plain Python (tests, linters): the hooks are never called there
    radiusd = None

_REJECT = 0  # radiusd.RLM_MODULE_REJECT
_NOOP = 7  # radiusd.RLM_MODULE_NOOP
_core = None
_settings = None
_reject_reply = None
_reject_texts: dict[str, str] = {}


def _log(message: str, level: str = "L_ERR") -> None:
    if radiusd is None:
        print(message, file=sys.stderr)
        return
    for line in message.rstrip().splitlines() or [""]:
        radiusd.radlog(getattr(radiusd, level), line)


def _config() -> dict[str, str]:
    return dict(getattr(radiusd, "config", None) or {})


def instantiate(p=None):
    """Read the module's ``config { }`` once; a negative return stops the server."""
    global _core, _settings, _reject_reply, _reject_texts
    try:
        config = _config()
        for path in reversed([p for p in config.get("site_packages", "").split(":") if p]):
            if path in sys.path:
                sys.path.remove(path)
            sys.path.insert(0, path)
        from billing.credentials import CredentialCipher, CredentialError, load_key
        from rlm_ebs import core, reject_reply
        from rlm_ebs.reservations import Reservations

        cipher = None
        key_hex = config.get("credentials_key", "")
        key_file = config.get("credentials_key_file", "")
        try:
            if not (key_hex or key_file):
                raise CredentialError("neither credentials_key nor credentials_key_file set")
            cipher = CredentialCipher(load_key(key_hex, key_file))
        except (CredentialError, OSError) as error:
            _log(f"rlm_ebs: no credentials key ({error}); CHAP logins will be rejected",
                 "L_WARN")
        _settings = core.Settings(tz=ZoneInfo(config.get("time_zone") or "UTC"), cipher=cipher)
        if config.get("node"):  # RADIUS_AUTH_MODE "spool": addresses from reservations
            _settings.reservations = Reservations.for_node(config["node"])
            _log(f"rlm_ebs: node {_settings.reservations.node} leases from reservations",
                 "L_INFO")
        if config.get("test_clock_file"):
            _settings.clock = core.offset_clock(config["test_clock_file"])
            _log(f"rlm_ebs: TEST CLOCK from {config['test_clock_file']}", "L_WARN")
        _reject_texts = reject_reply.from_config(config)
        _reject_reply = reject_reply
        _core = core
    except Exception:
        _log("rlm_ebs: instantiate failed:\n" + traceback.format_exc())
        return -1
    _log("rlm_ebs: ready", "L_INFO")
    return 0


def authorize(p):
    if _core is None or _settings is None:
        _log("rlm_ebs: authorize called before instantiate succeeded")
        return _REJECT, {"config": (("EBS-Reason", "internal_error"),
                                    ("EBS-Decision", "reject"))}
    return _core.authorize(p, _settings, _log)


def post_auth(p):
    """The reservations' refill or give-back (rlm_ebs/reservations.py), and a reject's
    Reply-Message for a NAS that shows it (rlm_ebs/reject_reply.py). A fault here must
    not change the answer: logged, nothing added."""
    if _reject_reply is None or _core is None or _settings is None:
        return _NOOP
    try:
        config = _core.lists(p, only=("config",)).get("config", {})
        _core.post_auth_reservations(config, _settings.reservations)
        if (_core.first(config, "EBS-Reject-Message")
                and _core.first(config, "EBS-Decision") == "reject"):
            return _reject_reply.post_auth(p, _reject_texts)
        return _NOOP
    except Exception:
        _log("rlm_ebs: post_auth failed:\n" + traceback.format_exc())
        return _NOOP


def detach(p=None):
    return 0
