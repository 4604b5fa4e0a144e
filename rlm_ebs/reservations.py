"""The addresses this FreeRADIUS node hands out from memory (RADIUS_AUTH_MODE "spool").

A durable lease statement per login caps logins near the database's commit rate. Here
the node asks ``ebs_radius_reserve()`` for a few dozen leasable addresses of a pool at a
time (rows marked ``reserved`` for this node, which no other node's search takes) and
hands them out one per accept from memory; the answer spool carries each offer to the
database (``ebs_lease_offers_apply``), and the accounting confirms it by the lease id in
the Class as before (``ebs_lease_touch``). No address goes to two sessions: a reserved
row is this node's alone, each handout pops it, and a rejected login gives it back.

The refill runs on rlm_sql's pool, not here: when a pool's queue runs low the hook asks
for more through control (``EBS-Reserve``), post-auth runs the query, and
:meth:`Reservations.absorb` takes the answer. Until it lands, and whenever the queue is
empty, the login leases through ``ebs_radius_lease`` as in "live" mode: a reservation is
a saving, never a condition for a login. A pool the database says is full or the NAS's
own (``pool_exhausted`` / ``nas_pool``) is not asked again for a few seconds, so its
logins get the exact reject or answer from ``ebs_radius_lease``.

Calls into rlm_python3 are serialised by the server, so no lock is taken here. The
incarnation is new at every start: ``ebs_radius_reserve`` releases what the node's
earlier incarnations held (as unconfirmed offers: some may have been handed out).
"""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

LOW_WATER = 32  # addresses left in a pool's queue when more are asked for
ASK_AGAIN = 2.0  # seconds before a refill that has not landed is asked for again
CLOSED_FOR = 5.0  # seconds a full pool or a NAS's own pool is left to ebs_radius_lease
_ANSWER = re.compile(r"(?:[0-9]+ [0-9.]+)(?: [0-9]+ [0-9.]+)*")


@dataclass
class Reservations:
    node: str  # "<name>/<incarnation>"
    clock: Callable[[], float] = time.monotonic
    queues: dict[str, deque[tuple[int, str]]] = field(default_factory=dict)
    asked: dict[str, float] = field(default_factory=dict)
    closed: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_node(cls, name: str) -> Reservations:
        """A new incarnation of the node ``name`` (no ``/`` in it)."""
        if not name or "/" in name:
            raise ValueError(f"node name {name!r}: not empty, no '/'")
        return cls(node=f"{name}/{secrets.token_hex(6)}")

    def take(self, pool: str) -> tuple[int, str] | None:
        """An address of ``pool`` for one accept, or None (lease through rlm_sql)."""
        queue = self.queues.get(pool)
        return queue.popleft() if queue else None

    def wants_refill(self, pool: str) -> bool:
        """True once per refill: the caller asks post-auth to run it now."""
        now = self.clock()
        if self.closed.get(pool, 0.0) > now:
            return False
        if len(self.queues.get(pool, ())) >= LOW_WATER:
            return False
        if self.asked.get(pool, -ASK_AGAIN) + ASK_AGAIN > now:
            return False
        self.asked[pool] = now
        return True

    def give_back(self, pool: str, lease_id: int, address: str) -> None:
        """A login rejected after its address was taken: first out again."""
        self.queues.setdefault(pool, deque()).appendleft((lease_id, address))

    def absorb(self, pool: str, answer: str) -> int:
        """Take ``ebs_radius_reserve``'s answer; the count of addresses it added."""
        self.asked.pop(pool, None)
        answer = answer.strip()
        if answer in ("pool_exhausted", "nas_pool"):
            self.closed[pool] = self.clock() + CLOSED_FOR
            return 0
        if not _ANSWER.fullmatch(answer):
            return 0  # the query failed (database away): asked again after ASK_AGAIN
        words = answer.split(" ")
        queue = self.queues.setdefault(pool, deque())
        queue.extend((int(words[i]), words[i + 1]) for i in range(0, len(words), 2))
        return len(words) // 2

