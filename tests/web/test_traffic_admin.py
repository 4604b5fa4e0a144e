"""Traffic classes, their nodes and groups are kept in the admin: a node's network is
refused with host bits set, a port without TCP or UDP is refused under its field (the
table's CHECK said first), and a group lists its classes by name."""

from __future__ import annotations

from tests.web.conftest import submit


def test_a_class_with_nodes_and_a_group(as_admin, conn):
    submit(as_admin, "/trafficclassview/add", {"name": "Интернет", "weight": "200"})
    submit(as_admin, "/trafficclassview/add", {"name": "Городская сеть", "weight": "100",
                                               "passthrough": "y"})
    city = conn.execute("SELECT id FROM traffic_classes WHERE name = 'Городская сеть'"
                        ).fetchone()[0]
    wrong = submit(as_admin, "/trafficclassnodeview/add",
                   {"traffic_class": str(city), "network": "10.0.0.1/8", "protocol": ""})
    assert "Not a network in CIDR notation (like 10.0.0.0/8): 10.0.0.1/8" in wrong.text
    no_proto = submit(as_admin, "/trafficclassnodeview/add",
                      {"traffic_class": str(city), "network": "10.0.0.0/8", "protocol": "1",
                       "port": "53"})
    assert "A port is given only with TCP or UDP." in no_proto.text
    assert conn.execute("SELECT count(*) FROM traffic_class_nodes").fetchone()[0] == 0
    submit(as_admin, "/trafficclassnodeview/add",
           {"traffic_class": str(city), "network": "10.0.0.0/8", "protocol": "17",
            "port": "53"})
    submit(as_admin, "/trafficclassnodeview/add",
           {"traffic_class": str(city), "network": "192.0.2.7", "protocol": ""})
    assert conn.execute("SELECT network::text, protocol, port FROM traffic_class_nodes"
                        " ORDER BY id").fetchall() == [("10.0.0.0/8", 17, 53),
                                                       ("192.0.2.7/32", None, None)]
    shown = as_admin.get(f"/trafficclassview/show/{city}").text
    assert "10.0.0.0/8" in shown and "UDP" in shown and "Any" in shown

    classes = dict(conn.execute("SELECT name, id FROM traffic_classes").fetchall())
    submit(as_admin, "/trafficgroupview/add",
           {"name": "Весь трафик", "direction": "in", "rule": "max",
            "classes": [str(classes["Интернет"]), str(classes["Городская сеть"])]})
    assert conn.execute("SELECT direction, rule FROM traffic_groups").fetchone() == ("in", "max")
    assert conn.execute("SELECT count(*) FROM traffic_group_classes").fetchone()[0] == 2
    listed = as_admin.get("/trafficgroupview/list/").text
    # By weight: the city network (100) before the internet (200); codes in words.
    assert "Городская сеть, Интернет" in listed
    assert "Incoming" in listed and "The largest of its classes" in listed


def test_nodes_are_searched_by_an_address_they_hold(as_admin, conn):
    klass = conn.execute("INSERT INTO traffic_classes (name) VALUES ('Пиринг') RETURNING id"
                         ).fetchone()[0]
    conn.execute("INSERT INTO traffic_class_nodes (class_id, network) VALUES (%s, '10.0.0.0/8'),"
                 " (%s, '192.0.2.0/24')", (klass, klass))
    found = as_admin.get("/trafficclassnodeview/list/?_flt_0_network=10.20.30.40").text
    assert "10.0.0.0/8" in found and "192.0.2.0/24" not in found
