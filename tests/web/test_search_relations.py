"""A list's search offers a relation as a select of every related row only when that
table is a catalogue (tariffs, pools, NAS, switches): a select of every account or
subaccount made the tariff assignments and switch port lists take most of a minute at
500,000 subscribers."""

from __future__ import annotations

import re

import pytest


def _options(html: str) -> list[str]:
    """The options of every select on the page, the search form's included (FAB puts its
    fields in a JSON string, with ``<`` written as ``\\u003c``)."""
    html = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)
    return [re.sub(r"\s+", " ", text).strip()
            for text in re.findall(r"<option[^>]*>(.*?)</option>", html, re.S)]


@pytest.fixture
def people(conn):
    """Three accounts, each with a subaccount, a tariff assignment and a switch port."""
    conn.execute("INSERT INTO tariffs (name) VALUES ('Каталожный')")
    conn.execute("INSERT INTO switches (name, remote_id) VALUES ('Свитч-7', 'aa:bb:cc:dd:ee:07')")
    conn.execute("INSERT INTO accounts (contract, login) "
                 "SELECT 'rel-' || g, 'relacc' || g FROM generate_series(1, 3) g")
    conn.execute("INSERT INTO subaccounts (account_id, username) "
                 "SELECT id, 'relsub-' || login FROM accounts WHERE contract LIKE 'rel-%'")
    conn.execute("INSERT INTO account_tariffs (account_id, tariff_id, assigned_at) "
                 "SELECT a.id, t.id, now() - interval '1 day' FROM accounts a, tariffs t "
                 "WHERE a.contract LIKE 'rel-%' AND t.name = 'Каталожный'")
    conn.execute("INSERT INTO subaccount_switch_ports (subaccount_id, switch_id, port) "
                 "SELECT s.id, w.id, row_number() OVER (ORDER BY s.id) FROM subaccounts s,"
                 " switches w WHERE s.username LIKE 'relsub-%'")


@pytest.mark.parametrize("url", ["/accounttariffview/list/", "/subaccountswitchportview/list/"])
def test_no_select_of_every_subscriber(as_admin, people, url):
    page = as_admin.get(url)
    assert page.status_code == 200
    assert "rel-1" in page.text or "relsub-relacc1" in page.text  # the rows are listed
    offered = " ".join(_options(page.text))
    assert "rel-" not in offered and "relsub" not in offered, offered


def test_catalogue_relations_stay_searchable(as_admin, people):
    assignments = _options(as_admin.get("/accounttariffview/list/").text)
    ports = _options(as_admin.get("/subaccountswitchportview/list/").text)
    assert "Каталожный" in assignments
    assert "Свитч-7" in ports
