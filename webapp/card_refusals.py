"""Express-card refusals in the operator's and the subscriber's words, one per
``billing.express_cards.CardRefused`` code: the cashier's desk, the admin's series pages
and (next) the cabinet say the same thing for the same rule."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp import localtime

TEXTS = {
    "wrong_pin": _l("No card has this number and PIN. Check both and try again."),
    "card_disabled": _l("This card is disabled."),
    "card_expired": _l("This card has expired."),
    "card_unsold": _l("This card has not been sold yet."),
    "card_used": _l("This card has already been used."),
    "bad_series": _l("The series cannot be made so:"),
    "weak_pin": _l("Too few possible PINs: make them longer or use more characters."),
    "no_series": _l("There is no such series."),
    "no_dealer": _l("There is no such dealer."),
    "already_exported": _l("The PINs of this series were exported once already; they are "
                           "no longer kept."),
    "not_enough_cards": _l("The series has fewer unsold cards than that."),
    "series_disabled": _l("The series is disabled."),
    "series_expired": _l("The series has expired."),
    "no_account": _l("There is no such account."),
}
NO_KEY = _l("This server has no credentials key (CREDENTIALS_KEY_FILE), which express "
            "cards' PINs are kept under; `ebs up` or the installer creates it.")


def text_of(exc: Exception) -> str:
    """The refusal as a sentence: a lock says until when, a bad parameter says which."""
    code = getattr(exc, "code", "")
    if code == "too_many_attempts" and getattr(exc, "locked_until", None) is not None:
        return str(_l("Too many wrong PINs: try again after %(at)s.",
                      at=localtime.format_stamp(exc.locked_until)))
    known = TEXTS.get(code)
    if known is None:
        return str(exc)
    return f"{known} {exc}" if code == "bad_series" else str(known)

