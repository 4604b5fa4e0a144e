"""The traffic collector follows the admin's edits: nfacctd's maps and plugins are built
from the traffic classes and their nodes, the groups, the IP pools, the subaccounts'
static addresses and the NAS table (flow/collector_maps.py), so a change of any of them
asks the worker to re-render them (``ebs.flow_changed``, by name). The beat sends the
same task every minute: a queue that is away delays the change by that minute at most,
which the operator is told in a warning, and the saved row stays saved."""

from __future__ import annotations

from flask import flash, g
from flask_babel import lazy_gettext as _l

from webapp import tasks_client

_PENDING = "ebs_collector_changed"


class CollectorChange:
    """A model view mixin (before the view's base class). ``changes_collector`` says
    whether a row's add, edit or delete matters to the collector; it is asked before the
    change, while the row's old values can still be read, and the task is sent after
    it, since FAB calls the ``post_*`` hooks once the change is committed."""

    def changes_collector(self, item, change: str) -> bool:
        return True

    def _note(self, item, change: str) -> None:
        setattr(g, _PENDING, self.changes_collector(item, change))

    def _announce(self) -> None:
        if not getattr(g, _PENDING, False):
            return
        setattr(g, _PENDING, False)
        try:
            tasks_client.send(tasks_client.FLOW_CHANGED)
        except tasks_client.QueueUnavailable:
            flash(str(_l("The task queue is unavailable: the traffic collector takes "
                         "this change within a minute.")), "warning")

    def pre_add(self, item) -> None:
        super().pre_add(item)
        self._note(item, "add")

    def pre_update(self, item) -> None:
        super().pre_update(item)
        self._note(item, "edit")

    def pre_delete(self, item) -> None:
        super().pre_delete(item)
        self._note(item, "delete")

    def post_add(self, item) -> None:
        super().post_add(item)
        self._announce()

    def post_update(self, item) -> None:
        super().post_update(item)
        self._announce()

    def post_delete(self, item) -> None:
        super().post_delete(item)
        self._announce()
