"""The cashier's flow and the ledger views: a payment posted at the desk lands in the
ledger with the operator, the balance equals the entries, a reversal cancels an entry."""

import re
from datetime import UTC, datetime
from decimal import Decimal

from billing import ledger
from tests.web.conftest import ADMIN, csrf_token, login

_NONCE = re.compile(r'name="nonce"[^>]*value="([^"]+)"')


def _account(conn, contract="30001", name="Кассова Анна", phone="+79165550001",
             street="ул. Садовая"):
    return conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house) "
        "VALUES (%s, %s, %s, %s, %s, '7') RETURNING id",
        (contract, f"login{contract}", name, phone, street),
    ).fetchone()[0]


def _pay_form(client, account_id):
    page = client.get(f"/cashier/account/{account_id}")
    assert page.status_code == 200
    return {"csrf_token": csrf_token(page.text), "nonce": _NONCE.search(page.text).group(1)}


def test_cashier_finds_a_subscriber_by_each_key(as_cashier, conn):
    account = _account(conn)
    _account(conn, "30002", "Другой Борис", "+79165550002", "ул. Мира")
    for q in ("30001", "login30001", "+79165550001", "кассова", "УЛ. САД"):
        response = as_cashier.get("/cashier/", query_string={"q": q})
        assert response.status_code == 302, q  # one match: straight to the account
        assert response.location.endswith(f"/cashier/account/{account}")
    both = as_cashier.get("/cashier/", query_string={"q": "+7916555000"})
    assert "Nobody found" in both.text  # phone matches exactly, not by prefix
    many = as_cashier.get("/cashier/", query_string={"q": "ул."})
    assert "30001" in many.text and "30002" in many.text
    # Two letters search the beginning of a contract or login only (no address scan).
    short = as_cashier.get("/cashier/", query_string={"q": "ул"})
    assert "30001" not in short.text and "30002" not in short.text


def test_cashier_payment_lands_in_the_ledger_once(as_cashier, conn, staff):
    account = _account(conn)
    form = _pay_form(as_cashier, account)
    receipt = as_cashier.post(f"/cashier/account/{account}/pay",
                              data={**form, "amount": "150.50", "description": "наличные"},
                              follow_redirects=True)
    assert receipt.status_code == 200
    assert 'data-amount="150.50"' in receipt.text
    # The same form submitted again (a double click, a refresh) posts nothing new.
    as_cashier.post(f"/cashier/account/{account}/pay",
                    data={**form, "amount": "150.50", "description": "наличные"})
    rows = conn.execute("SELECT kind, amount, staff_user_id, description FROM ledger_entries"
                        ).fetchall()
    assert rows == [("payment", Decimal("150.50"), staff["cashier"], "наличные")]
    assert conn.execute("SELECT balance FROM accounts WHERE id = %s", (account,)
                        ).fetchone()[0] == Decimal("150.50")
    assert ledger.verify(conn) == []
    # The entry shows on the ledger pages, global and per account, with the operator.
    listing = as_cashier.get("/ledgerview/list/")
    assert "150.50" in listing.text and "cashier" in listing.text


def test_cashier_payment_form_messages(as_cashier, conn):
    account = _account(conn)
    for amount, message in [("-10", "The amount cannot be negative."),
                            ("abc", "Not an amount: abc. Write it as 1,000.50."),
                            ("1.005", "At most two decimals"),
                            ("", "Enter the amount.")]:
        page = as_cashier.post(f"/cashier/account/{account}/pay",
                               data={**_pay_form(as_cashier, account), "amount": amount})
        assert message in page.text, amount
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_cashier_cannot_post_a_correction(as_cashier, conn):
    account = _account(conn)
    response = as_cashier.post(f"/cashier/account/{account}/correct",
                               data={**_pay_form(as_cashier, account), "amount": "-100",
                                     "description": "x"})
    assert response.status_code == 403
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 0


def test_admin_correction_and_reversal(client, conn, staff):
    account = _account(conn)
    login(client, *ADMIN)
    client.post(f"/cashier/account/{account}/correct",
                data={**_pay_form(client, account), "amount": "-40.00",
                      "description": "ошибочное начисление"})
    entry = conn.execute("SELECT id, kind, amount, staff_user_id FROM ledger_entries"
                         ).fetchone()
    assert entry[1:] == ("correction", Decimal("-40.00"), staff["admin"])

    listing = client.get("/ledgerview/list/")
    client.post("/ledgerview/action_post", data={
        "csrf_token": csrf_token(listing.text), "action": "reverse", "rowid": str(entry[0])})
    rows = conn.execute("SELECT kind, amount, reverses_id, staff_user_id FROM ledger_entries "
                        "ORDER BY id").fetchall()
    assert rows[1] == ("reversal", Decimal("40.00"), entry[0], staff["admin"])
    assert conn.execute("SELECT balance FROM accounts").fetchone()[0] == 0
    assert ledger.verify(conn) == []
    # Reversing again changes nothing; a reversal itself cannot be reversed.
    client.post("/ledgerview/action_post", data={
        "csrf_token": csrf_token(listing.text), "action": "reverse", "rowid": str(entry[0])})
    reversal_id = conn.execute("SELECT max(id) FROM ledger_entries").fetchone()[0]
    page = client.post("/ledgerview/action_post", data={
        "csrf_token": csrf_token(listing.text), "action": "reverse", "rowid": str(reversal_id)},
        follow_redirects=True)
    assert "is a reversal" in page.text
    assert conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == 2


def test_ledger_filters_by_kind_and_operator(as_admin, conn, staff):
    account = _account(conn)
    ledger.post(conn, ledger.Entry(account, "payment", Decimal("10.00"), "k1",
                                   datetime.now(UTC), staff_user_id=staff["cashier"]))
    ledger.post(conn, ledger.Entry(account, "charge_periodic", Decimal("-3.00"), "k2",
                                   datetime.now(UTC)))
    by_kind = as_admin.get("/ledgerview/list/?_flt_0_kind=charge_periodic")
    assert "-3.00" in by_kind.text and "10.00" not in by_kind.text
    by_operator = as_admin.get(f"/ledgerview/list/?_flt_0_staff_user={staff['cashier']}")
    assert "10.00" in by_operator.text and "-3.00" not in by_operator.text
    per_account = as_admin.get(f"/accountview/show/{account}")
    assert "10.00" in per_account.text and "-3.00" in per_account.text
