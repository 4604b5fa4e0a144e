"""The cabinet's notifications page: the subscriber switches non-essential messages off
and on for their own account only (the session's, never one named by the form), the
choice is the row the mailing reads, and a repeated form changes nothing."""

from __future__ import annotations

import re

from tests.web.cabinet_helpers import cabinet_login, cabinet_post, subscriber


def _opted_out(conn, account_id: int) -> bool:
    return conn.execute("SELECT count(*) FROM notification_optouts WHERE account_id = %s",
                        (account_id,)).fetchone()[0] == 1


def test_the_subscriber_switches_non_essential_messages_off_and_on(client, conn):
    me, login, password = subscriber(conn)
    other, _, _ = subscriber(conn)
    cabinet_login(client, login, password)
    page = client.get("/cabinet/notifications")
    assert page.status_code == 200
    assert 'data-opted-out="false"' in page.text
    assert re.search(r'<input checked[^>]*value="all"', page.text)
    assert 'href="/cabinet/notifications"' in page.text  # in the menu
    done = cabinet_post(client, "/cabinet/notifications",
                        {"receives": "essential", "account_id": other})
    assert 'data-opted-out="true"' in done.text
    assert _opted_out(conn, me) and not _opted_out(conn, other)
    again = cabinet_post(client, "/cabinet/notifications", {"receives": "essential"})
    assert "Nothing changed." in again.text and _opted_out(conn, me)
    cabinet_post(client, "/cabinet/notifications", {"receives": "all"})
    assert not _opted_out(conn, me)


def test_bad_input_or_no_token_changes_nothing(client, conn):
    me, login, password = subscriber(conn)
    assert client.get("/cabinet/notifications").status_code == 302  # the login first
    cabinet_login(client, login, password)
    refused = cabinet_post(client, "/cabinet/notifications", {"receives": "everything"})
    assert "Not a valid choice" in refused.text and not _opted_out(conn, me)
    client.post("/cabinet/notifications", data={"receives": "essential"})
    assert not _opted_out(conn, me)
