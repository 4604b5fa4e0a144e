"""nfacctd's stop keeps its SIGINT clear of the plugins' purges (a plugin signalled while
it hands its cache to its writer writes that cache twice): from 4 s before each refresh
deadline, which the core's 2-s delay brings onto the purge, to 3.5 s after it."""

from __future__ import annotations

import pytest

from stack.servers.nfacctd import purge_wait

MINUTE = 1_796_600_940  # a whole minute of Unix time


@pytest.mark.parametrize(("phase", "wait"), [
    (0.0, 3.5), (1.0, 2.5), (3.4, 0.1),  # the purge is on now or just was
    (3.5, 0.0), (30.0, 0.0), (56.0, 0.0),  # clear
    (56.5, 7.0), (59.9, 3.6),  # the SIGINT would reach the plugins at their purge
])
def test_the_wait_before_a_sigint(phase, wait):
    assert purge_wait(MINUTE + phase, 60) == pytest.approx(wait)


def test_every_moment_of_a_minute_waits_into_the_clear_part():
    for tenth in range(600):
        now = MINUTE + tenth / 10
        then = now + purge_wait(now, 60)
        assert purge_wait(then, 60) == pytest.approx(0.0)
        assert 3.5 - 1e-9 <= then % 60 <= 56.0 + 1e-9
