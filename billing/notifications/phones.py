"""Phone numbers to E.164, as every SMS provider wants them, or a refusal with its reason.

Subscribers' numbers are typed by people: "8 (916) 123-45-67", "+7 916 1234567",
"9161234567". Google's libphonenumber rules (the ``phonenumbers`` package) read them in
the operator's region (``SENDSMS_PHONE_REGION``, Russia by default, where a national
"8" prefix means +7), and only a number that can receive an SMS — a mobile one, or one
the numbering plan cannot tell apart from mobile — is accepted.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

DEFAULT_REGION = "RU"
_SMS_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class PhoneError(ValueError):
    """A number no SMS can be sent to; ``reason`` is a short code, the text says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """``raw`` as ``+<country><number>``; PhoneError when it is no mobile number."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError("empty", "no phone number")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError("unreadable", f"{text!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid", f"{text!r} is not a valid number in its numbering plan")
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise PhoneError("not_mobile", f"{text!r} is not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
