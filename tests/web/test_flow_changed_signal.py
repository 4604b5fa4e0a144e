"""An admin edit of what the traffic collector is built from (traffic classes and their
nodes, groups, IP pools, subaccounts' static addresses, NAS) asks the worker to re-render
it: ``ebs.flow_changed`` lands on the real Redis broker once per change, nothing for an
edit the collector does not read or a form that was refused, and a broker that is away
leaves the row saved with a warning."""

from __future__ import annotations

from stack.servers.base import free_port
from tests.web.conftest import csrf_token, submit
from tests.web.test_operations import broker, queued, web_settings  # noqa: F401

FLOW_CHANGED = ("ebs.flow_changed", [])


def _delete(client, view: str, pk: int) -> None:
    listing = client.get(f"/{view}/list/")
    response = client.post(f"/{view}/delete/{pk}",
                           data={"csrf_token": csrf_token(listing.text)})
    assert response.status_code == 302, response.status_code


def _announced(broker) -> int:  # noqa: F811
    """How many ``ebs.flow_changed`` wait on the queue (each without arguments)."""
    found = [task for task in queued(broker) if task[0] == FLOW_CHANGED[0]]
    assert all(task == FLOW_CHANGED for task in found), found
    return len(found)


def _walk(client, conn, broker, view: str, table: str, added: dict, edited: dict,  # noqa: F811
          key: str = "name") -> None:
    """Add, edit and delete one row through the view: one task after each."""
    submit(client, f"/{view}/add", added)
    pk = conn.execute(f"SELECT id FROM {table} WHERE {key} = %s",
                      (added[key],)).fetchone()[0]
    assert _announced(broker) == 1
    submit(client, f"/{view}/edit/{pk}", edited)
    assert _announced(broker) == 2
    _delete(client, view, pk)
    assert conn.execute(f"SELECT count(*) FROM {table} WHERE id = %s",
                        (pk,)).fetchone()[0] == 0
    assert _announced(broker) == 3
    broker.delete("celery")


def test_traffic_classes_nodes_and_groups_announce_each_change(as_admin, conn,
                                                                broker):  # noqa: F811
    _walk(as_admin, conn, broker, "trafficclassview", "traffic_classes",
          {"name": "Город", "weight": "100"}, {"name": "Город-2", "weight": "50"})
    cls = conn.execute("INSERT INTO traffic_classes (name, weight) VALUES ('Мир', 200)"
                       " RETURNING id").fetchone()[0]
    _walk(as_admin, conn, broker, "trafficclassnodeview", "traffic_class_nodes",
          {"traffic_class": str(cls), "network": "10.0.0.0/8", "protocol": ""},
          {"traffic_class": str(cls), "network": "10.0.0.0/16", "protocol": "6",
           "port": "443"}, key="network")
    _walk(as_admin, conn, broker, "trafficgroupview", "traffic_groups",
          {"name": "Интернет", "direction": "both", "rule": "sum", "classes": str(cls)},
          {"name": "Интернет", "direction": "in", "rule": "max", "classes": str(cls)})


def test_ip_pools_and_nas_announce_each_change(as_admin, conn, broker):  # noqa: F811
    pool = {"name": "Main", "kind": "ipv4_vpn", "range_start": "10.0.0.1",
            "range_end": "10.0.0.100"}
    _walk(as_admin, conn, broker, "ippoolview", "ip_pools", pool,
          {**pool, "range_end": "10.0.0.200"})
    nas = {"name": "edge", "vendor": "mikrotik", "ip_address": "10.9.0.2",
           "secret": "secret-456-16-ch", "description": ""}
    _walk(as_admin, conn, broker, "nasview", "nas", nas, {**nas, "ip_address": "10.9.0.3"})


def _subaccount(client, conn, account: int, username: str, address: str) -> int:
    submit(client, "/subaccountview/add", {
        "account": str(account), "username": username, "ip_address": address,
        "simultaneous_use": "1"})
    return conn.execute("SELECT id FROM subaccounts WHERE username = %s",
                        (username,)).fetchone()[0]


def test_a_subaccount_announces_only_its_static_address(as_admin, conn, broker):  # noqa: F811
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('1', 'a')"
                           " RETURNING id").fetchone()[0]
    dynamic = _subaccount(as_admin, conn, account, "dyn", "")
    assert _announced(broker) == 0
    static = _subaccount(as_admin, conn, account, "static", "192.0.2.7")
    assert _announced(broker) == 1
    form = {"account": str(account), "username": "static", "ip_address": "192.0.2.7",
            "simultaneous_use": "2"}
    submit(as_admin, f"/subaccountview/edit/{static}", form)  # same address, other rule
    assert conn.execute("SELECT simultaneous_use FROM subaccounts WHERE id = %s",
                        (static,)).fetchone()[0] == 2
    assert _announced(broker) == 1
    submit(as_admin, f"/subaccountview/edit/{static}", {**form, "ip_address": "192.0.2.8"})
    assert _announced(broker) == 2
    submit(as_admin, f"/subaccountview/edit/{static}", {**form, "ip_address": ""})
    assert _announced(broker) == 3
    submit(as_admin, f"/subaccountview/edit/{dynamic}",
           {**form, "username": "dyn", "ip_address": "192.0.2.9"})
    assert _announced(broker) == 4
    _delete(as_admin, "subaccountview", dynamic)  # it holds 192.0.2.9
    assert _announced(broker) == 5
    _delete(as_admin, "subaccountview", static)  # it holds none now
    assert _announced(broker) == 5
    assert conn.execute("SELECT count(*) FROM subaccounts").fetchone()[0] == 0


def test_a_refused_form_announces_nothing(as_admin, conn, broker):  # noqa: F811
    page = submit(as_admin, "/ippoolview/add", {
        "name": "Bad", "kind": "ipv4_vpn", "range_start": "10.0.0.9",
        "range_end": "10.0.0.1"})
    assert "The range ends before it starts." in page.text
    page = submit(as_admin, "/trafficclassnodeview/add", {
        "traffic_class": "", "network": "10.0.0.0/8", "protocol": ""})
    assert queued(broker) == []


def test_without_a_broker_the_change_stands_with_a_warning(app, as_admin, conn,
                                                           broker):  # noqa: F811
    app.config["EBS_SETTINGS"].REDIS_PORT = free_port()  # nothing listens there
    page = submit(as_admin, "/trafficclassview/add", {"name": "Город", "weight": "100"})
    assert page.status_code == 200
    assert "The task queue is unavailable: the traffic collector takes this change" \
           " within a minute." in page.text
    assert 'alert-warning' in page.text
    assert conn.execute("SELECT name FROM traffic_classes").fetchall() == [("Город",)]
    assert queued(broker) == []
