"""Staff logins limited to source networks: per role, per staff member (which wins),
refused with the generic login failure (nothing tells a correct password from a wrong
one); edited in the admin with CIDR validation."""

from tests.web.conftest import ADMIN, CASHIER, login, submit

GENERIC = "Invalid login. Please try again."


def _network(conn, network: str, role: str | None = None, user: int | None = None) -> None:
    conn.execute(
        "INSERT INTO staff_networks (role_id, user_id, network)"
        " VALUES ((SELECT id FROM ab_role WHERE name = %s), %s, %s)", (role, user, network))


def _login_from(client, address: str, credentials):
    client.environ_base["REMOTE_ADDR"] = address
    return login(client, *credentials)


def _logged_in(client) -> bool:
    return client.get("/cashier/", follow_redirects=False).status_code == 200


def test_no_networks_means_any_network(client, staff):
    _login_from(client, "203.0.113.7", CASHIER)
    assert _logged_in(client)


def test_a_role_network_refuses_logins_from_elsewhere_generically(client, conn, staff):
    _network(conn, "10.20.0.0/16", role="Cashier")
    page = _login_from(client, "10.30.1.1", CASHIER)
    assert GENERIC in page.text and "10.30.1.1" not in page.text
    assert not _logged_in(client)
    _login_from(client, "10.20.5.6", CASHIER)
    assert _logged_in(client)


def test_a_staff_members_own_networks_replace_the_roles(client, conn, staff):
    _network(conn, "10.20.0.0/16", role="Cashier")
    _network(conn, "192.0.2.0/24", user=staff["cashier"])
    page = _login_from(client, "10.20.5.6", CASHIER)
    assert GENERIC in page.text and not _logged_in(client)
    _login_from(client, "192.0.2.10", CASHIER)
    assert _logged_in(client)


def test_networks_are_edited_by_admin_with_validation(client, conn, staff):
    _login_from(client, "127.0.0.1", ADMIN)
    bad = submit(client, "/staffnetworkview/add", {
        "role": str(conn.execute("SELECT id FROM ab_role WHERE name = 'Cashier'").fetchone()[0]),
        "network": "10.0.0.1/8"})
    assert "Not a network in CIDR notation" in bad.text
    neither = submit(client, "/staffnetworkview/add", {"network": "10.0.0.0/8"})
    assert "Choose a staff member or a role (one of them)." in neither.text
    submit(client, "/staffnetworkview/add", {"user": str(staff["cashier"]),
                                             "network": "10.0.0.0/8", "comment": "office"})
    assert conn.execute("SELECT host(network), masklen(network), comment FROM staff_networks"
                        ).fetchall() == [("10.0.0.0", 8, "office")]
    client.get("/logout/")
    assert GENERIC in _login_from(client, "127.0.0.1", CASHIER).text
    assert not _logged_in(client)


def test_networks_are_searched_by_address_and_by_prefix(caplog, client, conn, staff):
    """FAB has no filter for a cidr column: ours serve the search, and neither the app's
    start nor a search logs "Filter type not supported" for it."""
    _network(conn, "10.20.0.0/16", role="Cashier")
    _network(conn, "10.20.5.0/24", user=staff["cashier"])
    _network(conn, "192.0.2.0/24", role="ReadOnly")
    _login_from(client, "127.0.0.1", ADMIN)

    def listed(query: str) -> set[str]:
        page = client.get(f"/staffnetworkview/list/?{query}")
        assert page.status_code == 200
        return {n for n in ("10.20.0.0/16", "10.20.5.0/24", "192.0.2.0/24") if n in page.text}

    assert listed("") == {"10.20.0.0/16", "10.20.5.0/24", "192.0.2.0/24"}
    assert listed("_flt_0_network=10.20.5.6") == {"10.20.0.0/16", "10.20.5.0/24"}
    assert listed("_flt_0_network=10.20.9.9") == {"10.20.0.0/16"}
    assert listed("_flt_0_network=not-an-address") == set()
    assert listed("_flt_1_network=10.20") == {"10.20.0.0/16", "10.20.5.0/24"}
    assert listed("_flt_1_network=192.0.2.0/24") == {"192.0.2.0/24"}
    assert listed("_flt_1_network=%25") == set()  # a wildcard is a plain character here
    assert "Contains address" in client.get("/staffnetworkview/list/").text
    logged = caplog.get_records("setup") + caplog.get_records("call")
    assert not [r.getMessage() for r in logged
                if r.getMessage() == "Filter type not supported for column: network"]
