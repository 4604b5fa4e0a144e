"""The admin's RADIUS rules: a NAS secret is generated when left empty and refused when
shorter than 16 characters, a NAS is marked for DHCP/IPoE, and CHAP is enabled on a
tariff only where the credentials key exists."""

from __future__ import annotations

from billing.credentials import CredentialCipher, load_key
from tests.web.api_tools import api_as
from tests.web.conftest import submit


def _nas_form(secret: str, **extra: str) -> dict[str, str]:
    return {"name": "edge-1", "vendor": "mikrotik", "ip_address": "192.0.2.41",
            "secret": secret, **extra}


def test_a_short_nas_secret_is_refused_on_the_form(as_admin, conn):
    page = submit(as_admin, "/nasview/add", _nas_form("only-15-chars.."))
    assert "At least 16 characters" in page.text
    assert conn.execute("SELECT count(*) FROM nas").fetchone()[0] == 0


def test_an_empty_nas_secret_is_generated_and_dhcp_ipoe_is_kept(as_admin, conn):
    submit(as_admin, "/nasview/add", _nas_form("", dhcp_ipoe="y"))
    secret, dhcp_ipoe = conn.execute("SELECT secret, dhcp_ipoe FROM nas").fetchone()
    assert len(secret) >= 32 and dhcp_ipoe is True
    submit(as_admin, "/nasview/add", {**_nas_form("a-secret-of-16-c"), "name": "edge-2",
                                      "ip_address": "192.0.2.42"})
    assert conn.execute("SELECT secret, dhcp_ipoe FROM nas WHERE name = 'edge-2'"
                        ).fetchone() == ("a-secret-of-16-c", False)


def _tariff_form(name: str) -> dict[str, str]:
    return {"name": name, "access_type": "pppoe", "chap_enabled": "y", "package_cost": "0",
            "suspension_cost": "0", "suspension_min_balance": "0"}


def test_chap_is_refused_on_a_tariff_without_the_credentials_key(as_admin, app, conn,
                                                                  tmp_path):
    settings = app.config["EBS_SETTINGS"]
    settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE = "", str(tmp_path / "none.key")
    page = submit(as_admin, "/tariffview/add", _tariff_form("CHAP without key"))
    assert "CHAP needs the credentials key" in page.text
    assert conn.execute("SELECT count(*) FROM tariffs WHERE name = 'CHAP without key'"
                        ).fetchone()[0] == 0

    settings.CREDENTIALS_KEY_FILE = str(tmp_path / "made.key")
    load_key("", settings.CREDENTIALS_KEY_FILE, create=True)
    submit(as_admin, "/tariffview/add", _tariff_form("CHAP with key"))
    assert conn.execute("SELECT chap_enabled FROM tariffs WHERE name = 'CHAP with key'"
                        ).fetchone() == (True,)


def test_a_network_password_reseals_chap_or_says_it_cannot(as_admin, app, conn, tmp_path):
    settings = app.config["EBS_SETTINGS"]
    settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE = "", str(tmp_path / "k.key")
    key = load_key("", settings.CREDENTIALS_KEY_FILE, create=True)
    account = conn.execute("INSERT INTO accounts (contract, login) VALUES ('c1', 'c1')"
                           " RETURNING id").fetchone()[0]
    sub = conn.execute("INSERT INTO subaccounts (account_id, username) VALUES (%s, 'chap1')"
                       " RETURNING id", (account,)).fetchone()[0]
    submit(as_admin, f"/account-actions/subaccount/{sub}/password", {"password": "net-Pass-2"})
    sealed = conn.execute("SELECT chap_password_encrypted FROM subaccounts WHERE id = %s",
                          (sub,)).fetchone()[0]
    assert CredentialCipher(key).open(bytes(sealed), sub) == "net-Pass-2"

    (tmp_path / "k.key").unlink()  # a server without the key: CHAP is cleared, and said so
    page = submit(as_admin, f"/account-actions/subaccount/{sub}/password",
                  {"password": "net-Pass-3"})
    assert "CHAP will not work for it" in page.text
    assert conn.execute("SELECT chap_password_encrypted FROM subaccounts WHERE id = %s",
                        (sub,)).fetchone()[0] is None


def test_the_api_refuses_chap_without_the_credentials_key(client, app, conn, staff, tmp_path):
    settings = app.config["EBS_SETTINGS"]
    settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_FILE = "", str(tmp_path / "none.key")
    api = api_as(client, "Admin")
    refused = api.post("/api/v1/tariff/", {"name": "CHAP", "chap_enabled": True})
    assert refused.status_code == 400, refused.text
    assert "credentials key" in refused.json["errors"]["chap_enabled"][0]
    load_key("", settings.CREDENTIALS_KEY_FILE, create=True)
    assert api.post("/api/v1/tariff/", {"name": "CHAP", "chap_enabled": True}
                    ).status_code == 201
