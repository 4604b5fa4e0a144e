"""A deep page of the account list, read through the primary key's index (deferred
join), shows exactly the rows plain OFFSET paging shows, in the same order."""

import re

import pytest

from webapp.views import base


def _contracts(client, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200
    return re.findall(r"<td>\s*(9\d{4})\s*</td>", page.text)


@pytest.mark.parametrize("order", ["", "&_oc_AccountView=contract&_od_AccountView=asc"])
def test_deferred_paging_matches_offset_paging(as_admin, conn, monkeypatch, order):
    conn.execute("INSERT INTO accounts (contract, login) SELECT (90000 + g)::text, 'd' || g"
                 " FROM generate_series(1, 80) g")
    url = f"/accountview/list/?page_AccountView=2{order}"
    monkeypatch.setattr(base, "DEFER_FROM_OFFSET", 10**9)
    plain = _contracts(as_admin, url)
    monkeypatch.setattr(base, "DEFER_FROM_OFFSET", 0)
    deferred = _contracts(as_admin, url)
    assert len(plain) == 25 and deferred == plain
