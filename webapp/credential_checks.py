"""Form and API field checks that need this host's credentials key: enabling CHAP is
refused where no key exists (the rule is ``billing.credentials.check_chap_enabling``)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError as ApiValidationError
from wtforms.validators import ValidationError

from billing import credentials

CHAP_WITHOUT_KEY = _l("CHAP needs the credentials key (CREDENTIALS_KEY_FILE), which this "
                      "server does not have; `ebs up` or the installer creates it.")


def host_key() -> bytes | None:
    """The credentials key of this host, None when it has none."""
    settings = current_app.config["EBS_SETTINGS"]
    return credentials.optional_key(settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE)


def _refusal(chap_enabled: bool) -> str | None:
    try:
        credentials.check_chap_enabling(bool(chap_enabled), host_key() if chap_enabled else None)
    except credentials.ChapRefused:
        return str(CHAP_WITHOUT_KEY)
    return None


class ChapNeedsKey:
    """The admin form's check of a tariff's CHAP box."""

    def __call__(self, form, field) -> None:
        message = _refusal(field.data)
        if message:
            raise ValidationError(message)


def chap_needs_key(value) -> None:
    """The API's check of a tariff's ``chap_enabled`` (marshmallow)."""
    message = _refusal(value)
    if message:
        raise ApiValidationError(message)
