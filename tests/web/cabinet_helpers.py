"""Subscribers with a cabinet password, and logging in to the cabinet as one."""

from __future__ import annotations

import itertools

from billing.passwords import hash_password
from tests.web.conftest import csrf_token

_seq = itertools.count(1)


def subscriber(conn, password: str = "cab-Secret-1", *, login: str | None = None,
               balance_status: str = "active", full_name: str = "") -> tuple[int, str, str]:
    """A new account with a cabinet password (a cheap hash of the production format):
    (id, login, password)."""
    n = next(_seq)
    login = login or f"sub{n}"
    account_id = conn.execute(
        "INSERT INTO accounts (contract, login, password_hash, status, full_name)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (f"K{n:05d}", login, hash_password(password, iterations=1000), balance_status,
         full_name or f"Subscriber {n}"),
    ).fetchone()[0]
    return account_id, login, password


def cabinet_login(client, login: str, password: str, follow: bool = True):
    page = client.get("/cabinet/login")
    return client.post("/cabinet/login",
                       data={"username": login, "password": password,
                             "csrf_token": csrf_token(page.text)},
                       follow_redirects=follow)


def cabinet_post(client, form_url: str, data: dict, post_url: str | None = None,
                 follow: bool = True):
    """GET a cabinet form, then POST ``data`` with its CSRF token."""
    page = client.get(form_url)
    assert page.status_code == 200, (form_url, page.status_code)
    return client.post(post_url or form_url,
                       data={**data, "csrf_token": csrf_token(page.text)},
                       follow_redirects=follow)
