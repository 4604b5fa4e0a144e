"""What a subscriber reads when a login is refused: one short text per reject reason.

Some NASes show an Access-Reject's Reply-Message to the person at the keyboard (a
hotspot's login page, a PPPoE dialer's error line). Where the NAS is marked for it
(``nas.reject_reply_message``), post-auth asks rlm_ebs for the text of the request's
reason (rlm_ebs/reject_reply.py). The reason codes stay those of :class:`Reason` (the auth
log keeps them); these are only their words for the subscriber.

The texts are in the ISP's language (``LANGUAGE_CODE``), and the ISP may word any of them
(``RADIUS_REJECT_MESSAGES``: reason → text; an empty text sends none for that reason).
A wrong password and an unknown login read the same, so the message never tells a
stranger which logins exist; faults of ours read as a temporary failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote

from billing.access import Reason

# One attribute's value on the wire (RFC 2865): a longer text would be cut or refused.
REPLY_MESSAGE_LIMIT = 253
DEFAULT_LANGUAGE = "ru"
FALLBACK_LANGUAGE = "en"
# The texts travel to FreeRADIUS's python module as config items of this prefix.
CONFIG_PREFIX = "reject_message_"

_WRONG_CREDENTIALS = {"ru": "Неверный логин или пароль", "en": "Wrong login or password"}
_MONEY = {"ru": "Недостаточно средств на счёте, пополните баланс",
          "en": "Not enough money on the account, please top up"}
_TEMPORARY = {"ru": "Временная ошибка, попробуйте позже",
              "en": "Temporary failure, please try again later"}

DEFAULT_TEXTS: dict[Reason, dict[str, str]] = {
    Reason.UNKNOWN_LOGIN: _WRONG_CREDENTIALS,
    Reason.WRONG_PASSWORD: _WRONG_CREDENTIALS,
    Reason.ACCOUNT_DISABLED: {"ru": "Учётная запись отключена, обратитесь к провайдеру",
                              "en": "The account is disabled, please contact your provider"},
    Reason.ACCOUNT_SUSPENDED: {"ru": "Обслуживание приостановлено",
                               "en": "The service is suspended"},
    Reason.TARIFF_INACTIVE: {"ru": "Тариф не действует, обратитесь к провайдеру",
                             "en": "No tariff in force, please contact your provider"},
    Reason.WRONG_ACCESS_TYPE: {"ru": "Этот способ подключения не разрешён тарифом",
                               "en": "Your tariff does not allow this kind of connection"},
    Reason.CHAP_NOT_ENABLED: {"ru": "Этот способ проверки пароля не разрешён, "
                                    "выберите PAP или MS-CHAPv2",
                              "en": "This password method is not allowed, "
                                    "use PAP or MS-CHAPv2"},
    Reason.WRONG_NAS: {"ru": "Подключение через эту точку доступа не разрешено",
                       "en": "Connecting through this access point is not allowed"},
    Reason.MAC_MISMATCH: {"ru": "Это устройство не зарегистрировано для вашей учётной записи",
                          "en": "This device is not registered for your account"},
    Reason.IP_MISMATCH: {"ru": "Этот адрес не зарегистрирован для вашей учётной записи",
                         "en": "This address is not registered for your account"},
    Reason.OUTSIDE_ACCESS_WINDOW: {"ru": "В это время тариф не даёт доступа",
                                   "en": "Your tariff gives no access at this time"},
    Reason.BLOCKED_BY_LIMIT: {"ru": "Лимит трафика исчерпан",
                              "en": "The traffic limit is used up"},
    Reason.BLOCKED_BY_BALANCE: _MONEY,
    Reason.BALANCE_NEGATIVE: _MONEY,
    Reason.BALANCE_ZERO: _MONEY,
    Reason.SIMULTANEOUS_USE: {"ru": "Вы уже подключены с другого устройства",
                              "en": "You are already connected from another device"},
    Reason.POOL_EXHAUSTED: _TEMPORARY,
    Reason.DB_UNAVAILABLE: _TEMPORARY,
    Reason.INTERNAL_ERROR: _TEMPORARY,
    Reason.BAD_REQUEST: {"ru": "Запрос не распознан", "en": "The request could not be read"},
}


class RejectMessageError(ValueError):
    """An ISP's text that cannot be sent; the message names its reason."""


def check_text(reason: str, text: object) -> str:
    """A text fit for one Reply-Message: a string of at most 253 bytes in UTF-8, no
    control characters (empty: no message for the reason)."""
    if not isinstance(text, str):
        raise RejectMessageError(f"{reason}: the text must be a string, got {text!r}")
    if len(text.encode()) > REPLY_MESSAGE_LIMIT:
        raise RejectMessageError(
            f"{reason}: {len(text.encode())} bytes in UTF-8, at most {REPLY_MESSAGE_LIMIT}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise RejectMessageError(f"{reason}: control characters in the text")
    return text


def checked_overrides(overrides: Mapping[str, object] | None) -> dict[str, str]:
    """The ISP's texts, each checked, keyed by a reason code of :class:`Reason`."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise RejectMessageError(f"a dict of reason: text is needed, got {overrides!r}")
    known = {str(reason) for reason in DEFAULT_TEXTS}
    out = {}
    for reason, text in overrides.items():
        if reason not in known:
            raise RejectMessageError(
                f"{reason!r} is no reject reason; known: {', '.join(sorted(known))}")
        out[str(reason)] = check_text(reason, text)
    return out


def texts(language: str, overrides: Mapping[str, object] | None = None) -> dict[str, str]:
    """Reason code → the text to send, in ``language`` (``ru``, ``en``; another falls
    back to English) with the ISP's wording over ours; reasons with an empty text are
    left out, so nothing is sent for them."""
    lang = (language or "").split("-")[0].split("_")[0].lower()
    chosen = {str(reason): words.get(lang, words[FALLBACK_LANGUAGE])
              for reason, words in DEFAULT_TEXTS.items()}
    chosen.update(checked_overrides(overrides))
    return {reason: text for reason, text in chosen.items() if text}


def config_items(chosen: Mapping[str, str]) -> dict[str, str]:
    """The python module's ``config { }`` items for ``chosen`` (reason → text),
    percent-encoded: FreeRADIUS's config parser then sees plain ASCII, no quote,
    backslash or ``$`` to escape."""
    return {CONFIG_PREFIX + reason: quote(text, safe=" ,.-")
            for reason, text in sorted(chosen.items())}


def from_config(config: Mapping[str, object]) -> dict[str, str]:
    """Reason → text, back from those config items."""
    return {key[len(CONFIG_PREFIX):]: unquote(str(value))
            for key, value in config.items() if key.startswith(CONFIG_PREFIX) and value}
