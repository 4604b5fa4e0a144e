"""``ebs install``: the stack as system services on Debian 12.

Where ``stack.local`` runs every part under ``./var`` for ``ebs up`` and the tests, this
package puts the same parts on an installed system: Debian's PostgreSQL, Redis, FreeRADIUS
and nginx, our own systemd units for the rest. A module per concern; each step says what
it changed, so a second run can say that it changed nothing (:mod:`stack.install.run`).
"""
