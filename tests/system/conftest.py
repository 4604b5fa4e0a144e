"""Fixtures of the CoA/Disconnect tests: a NAS simulator and the worker's environment."""

from __future__ import annotations

import pytest

from tests.conftest import ebs_env
from tests.nas_simulator import nas_simulator

# The secret every CoA test's NAS row and simulator share.
SECRET = b"coa-test-secret"


@pytest.fixture
def sim():
    """A NAS's Dynamic Authorization server on 127.0.0.1 (tests/nas_simulator.py)."""
    with nas_simulator(SECRET) as simulator:
        yield simulator


@pytest.fixture
def env(db, monkeypatch):
    """The EBS_* variables that point worker tasks run in the test at its database."""
    for name, value in ebs_env(db).items():
        monkeypatch.setenv(name, value)
