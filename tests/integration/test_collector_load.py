"""What flow.collector_maps reads from the database: the classes by weight with their
nodes, the exporters, and the subscribers' networks: pools plus the static addresses
outside them, consecutive ones merged, in SQL."""

from __future__ import annotations

import ipaddress

from flow.collector_maps import ClassNode, load


def subaccount(conn, account: int, login: str, address: str) -> None:
    conn.execute("INSERT INTO subaccounts (account_id, username, ip_address)"
                 " VALUES (%s, %s, %s)", (account, login, address))


def test_the_database_read_as_the_maps_need_it(conn):
    conn.execute("INSERT INTO ip_pools (name, range_start, range_end) VALUES"
                 " ('a', '10.0.0.0', '10.0.0.255'), ('v6', '2001:db8::', '2001:db8::ff')")
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('c', 'l')"
                           " RETURNING id").fetchone()[0]
    statics = ["10.0.0.7",  # inside the pool: nothing of its own
               "10.5.0.1", "10.5.0.2", "10.5.0.3",  # a run: three addresses
               "10.7.0.9",  # alone
               "2001:db8::5", "2001:db8:1::1", "2001:db8:1::2"]
    for n, address in enumerate(statics):
        subaccount(conn, account, f"s{n}", address)
    conn.execute("INSERT INTO nas (name, ip_address, secret) VALUES"
                 " ('n2', '192.0.2.2', 'long-enough-secret-1'),"
                 " ('n1', '192.0.2.1', 'long-enough-secret-2')")
    ids = [conn.execute("INSERT INTO traffic_classes (name, weight, passthrough)"
                        " VALUES (%s, %s, %s) RETURNING id", row).fetchone()[0]
           for row in (("late", 50, False), ("early", 10, True), ("tie", 50, False))]
    conn.execute("INSERT INTO traffic_class_nodes (class_id, network, protocol, port)"
                 " VALUES (%s, '192.0.2.0/24', 6, 443), (%s, '0.0.0.0/0', NULL, NULL)",
                 (ids[1], ids[1]))

    found = load(conn)
    assert [str(n) for n in found.subscriber_networks] == [
        "10.0.0.0/24", "10.5.0.1/32", "10.5.0.2/31", "10.7.0.9/32",
        "2001:db8::/120", "2001:db8:1::1/128", "2001:db8:1::2/128"]
    assert [str(a) for a in found.exporters] == ["192.0.2.1", "192.0.2.2"]
    assert [(c.name, c.passthrough) for c in found.classes] == [
        ("early", True), ("late", False), ("tie", False)]
    assert found.classes[0].nodes == (
        ClassNode(ipaddress.ip_network("192.0.2.0/24"), 6, 443),
        ClassNode(ipaddress.ip_network("0.0.0.0/0")))
    assert found.classes[1].nodes == ()
