"""The one shape of a refusal: a rule said no, and ``code`` says which.

Every service refuses with a subclass of :class:`Refused` (a tariff change, a suspension
or status change, a promised payment, a transfer, a payment). ``code`` is a stable word
the caller acts on and the adapters pass on unchanged (the API's 422 body, the cashier's
form message, ``ebs account``'s exit line); the message is for people. So an adapter maps
refusals once, by catching :class:`Refused`, and a new service needs no new mapping.
"""

from __future__ import annotations


class Refused(ValueError):
    """An action a rule refuses; nothing was written. ``code`` names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
