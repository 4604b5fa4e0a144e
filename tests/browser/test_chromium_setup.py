"""Chromium's flags: the sandbox stays on for the service user, off only for root."""

from tests.browser.conftest import chromium_args


def test_no_sandbox_only_as_root():
    assert "--no-sandbox" in chromium_args(euid=0)
    assert "--no-sandbox" not in chromium_args(euid=999)
    assert "--disable-background-networking" in chromium_args(euid=999)
