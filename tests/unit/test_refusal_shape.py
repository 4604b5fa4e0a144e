"""Every service refuses in one shape: a ``billing.errors.Refused`` with a ``code``, so
the API, the cashier and ``ebs account`` map refusals once."""

import ast
from pathlib import Path

import pytest

from billing.accounts import AccountStateError
from billing.errors import Refused
from billing.payments import PaymentError
from billing.promise import PromiseError
from billing.tariff_change import TariffChangeError
from billing.transfer import TransferError

BILLING = Path(__file__).resolve().parents[2] / "billing"


@pytest.mark.parametrize(
    "error", [AccountStateError, PaymentError, PromiseError, TariffChangeError, TransferError])
def test_service_errors_are_refusals_with_a_code(error: type[Exception]) -> None:
    refusal = error("some_rule", "a rule said no")
    assert isinstance(refusal, Refused)
    assert isinstance(refusal, ValueError)  # callers that caught ValueError still do
    assert (refusal.code, str(refusal)) == ("some_rule", "a rule said no")


def test_the_older_name_of_an_account_state_code_still_reads() -> None:
    assert AccountStateError("suspended", "resume it first").reason == "suspended"


def test_no_other_billing_module_sets_a_code_of_its_own() -> None:
    setters = []
    for path in BILLING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr == "code"
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id == "self"):
                setters.append(path.relative_to(BILLING.parent).as_posix())
    assert setters == ["billing/errors.py"]
