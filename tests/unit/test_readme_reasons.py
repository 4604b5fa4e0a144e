"""The README's table of reject reason codes names every code the auth log can hold."""

from __future__ import annotations

import re

from billing.access import Reason
from tests.conftest import ROOT


def test_every_reason_code_is_explained_once():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    codes = re.findall(r"^\| `([a-z_]+)` \| (?:accept|reject|guest or reject) \|", text, re.M)
    assert sorted(codes) == sorted(reason.value for reason in Reason)
