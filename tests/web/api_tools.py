"""Helpers for the REST API tests: a JWT for a staff member and JSON calls with it."""

from __future__ import annotations

import json
from urllib.parse import quote

import prison

from tests.web.conftest import ADMIN, CASHIER, READONLY

LOGIN = "/api/v1/security/login"
ROLES = {"Admin": ADMIN, "Cashier": CASHIER, "ReadOnly": READONLY}


def token(client, username: str, password: str) -> str:
    response = client.post(LOGIN, json={"username": username, "password": password,
                                        "provider": "db", "refresh": True})
    assert response.status_code == 200, response.text
    return response.json["access_token"]


class Api:
    """A client that sends one staff member's bearer token and no cookie."""

    def __init__(self, client, access_token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {access_token}"}

    def get(self, url: str, **query):
        if query:
            url = f"{url}?q={quote(prison.dumps(query))}"
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body=None, raw: str | None = None):
        if raw is not None:
            return self.client.post(url, data=raw, headers={
                **self.headers, "Content-Type": "application/json"})
        return self.client.post(url, json=body if body is not None else {},
                                headers=self.headers)

    def put(self, url: str, body):
        return self.client.put(url, data=json.dumps(body), headers={
            **self.headers, "Content-Type": "application/json"})

    def open(self, url: str, method: str, body=None):
        return self.client.open(url, method=method, json=body, headers=self.headers)


def api_as(client, role: str) -> Api:
    return Api(client, token(client, *ROLES[role]))
