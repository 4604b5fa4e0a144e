from tests.web.conftest import ADMIN, login


def test_login_page_and_admin_login(client):
    assert client.get("/login/").status_code == 200
    page = login(client, *ADMIN)
    assert page.status_code == 200
    assert "Dashboard" in page.text
