"""What staff meet before any work: a refusal or a missing page inside the app's layout
with a way back, in the user's language; the cashier's login lands on the desk; total debt
is a positive sum; and no page needs the internet (FAB's user-statistics chart, which
loads Google Charts, is gone)."""

import re
from decimal import Decimal

from billing import payments
from tests.web.conftest import ADMIN, CASHIER, login

_DEBT = re.compile(r'data-stat="debt">([^<]+)<')


def _inside_the_layout(page, status: int) -> None:
    html = page.text
    assert page.status_code == status
    assert f'data-status="{status}"' in html
    assert 'class="navbar' in html  # FAB's menu bar: the page is one of the app's
    assert re.search(r'id="ebs-error-home" href="/"', html)


def test_a_refusal_and_a_missing_page_are_pages_of_the_app(as_cashier):
    refused = as_cashier.get("/nasview/list/")
    _inside_the_layout(refused, 403)
    assert "Access denied" in refused.text and "Back to the start page" in refused.text
    assert "Cashier desk" in refused.text  # the cashier's own menu is there
    missing = as_cashier.get("/no/such/page")
    _inside_the_layout(missing, 404)
    assert "Page not found" in missing.text
    _inside_the_layout(as_cashier.get("/cashier/receipt/987654"), 404)


def test_refusals_speak_russian_when_asked(as_cashier):
    as_cashier.get("/lang/ru")
    refused = as_cashier.get("/nasview/list/")
    _inside_the_layout(refused, 403)
    assert "Доступ запрещён" in refused.text and "На главную страницу" in refused.text
    missing = as_cashier.get("/no/such/page")
    _inside_the_layout(missing, 404)
    assert "Страница не найдена" in missing.text


def test_a_missing_page_before_login_is_one_of_the_app_too(client):
    _inside_the_layout(client.get("/no/such/page"), 404)


def test_the_api_keeps_its_own_answers(client):
    missing = client.get("/api/v1/no-such-resource/")
    assert missing.status_code == 404 and "ebs-error" not in missing.text


def test_a_cashier_lands_on_the_desk_and_an_admin_on_the_dashboard(client, app):
    landed = login(client, *CASHIER)
    assert landed.status_code == 200 and landed.request.path == "/cashier/"
    start = client.get("/")
    assert start.status_code == 302 and start.location.endswith("/cashier/")
    other = app.test_client()
    landed = login(other, *ADMIN)
    assert landed.request.path == "/" and 'id="ebs-dashboard"' in landed.text


def test_total_debt_is_a_positive_sum(as_admin, conn, staff):
    for contract in ("D-1", "D-2"):
        account = conn.execute("INSERT INTO accounts (contract, login) VALUES (%s, %s)"
                               " RETURNING id", (contract, contract.lower())).fetchone()[0]
        payments.post_correction(conn, account, Decimal("-1250.50"), source="x",
                                 unique_id=contract, staff_user_id=staff["admin"],
                                 comment="")
    assert _DEBT.search(as_admin.get("/").text).group(1).strip() == "2,501.00\xa0RUB"


def test_no_page_of_the_menu_reaches_for_google(app, as_admin):
    """Every page of the admin's menu (and every other page without arguments) is walked:
    none may load anything from Google, so the desk works without the internet."""
    assert not [r for r in app.url_map.iter_rules() if "UserStatsChart" in r.endpoint]
    with app.test_request_context():
        menu = {item.get_url() for menu in app.appbuilder.menu.get_list()
                for item in [menu, *menu.childs] if item.get_url() not in ("", "#")}
    urls = menu | {rule.rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments
             and not rule.rule.startswith(("/static", "/appbuilder", "/api/", "/logout",
                                           "/lang"))}
    walked = []
    for url in sorted(urls):
        page = as_admin.get(url)
        assert page.status_code == 200 or url not in menu, (url, page.status_code)
        found = re.findall(r"google|gstatic", page.get_data(as_text=True), re.IGNORECASE)
        assert not found, url
        walked.append(url)
    assert "/cashier/" in walked and len(menu) > 25 and len(walked) > len(menu)
    for gone in ("/userstatschartview/chart/", "/userstatschartview/chart"):
        assert as_admin.get(gone).status_code == 404
