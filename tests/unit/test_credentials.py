import pytest

from billing.credentials import (
    CredentialCipher,
    CredentialError,
    load_key,
    network_credentials,
    nt_password_hash,
    optional_key,
)


def test_nt_hash_matches_rfc_2759_vector():
    # RFC 2759, section 9.2: Password "clientPass", PasswordHash 44EBBA8D5312B8D611474411F56989AE.
    assert nt_password_hash("clientPass") == "44EBBA8D5312B8D611474411F56989AE"


def test_nt_hash_of_non_ascii_password_uses_utf16le():
    assert nt_password_hash("пароль") != nt_password_hash("parol")
    assert len(nt_password_hash("пароль")) == 32


def test_empty_password_is_refused():
    with pytest.raises(CredentialError):
        nt_password_hash("")


def test_seal_and_open_round_trip_and_never_repeat():
    cipher = CredentialCipher(bytes(range(32)))
    a, b = cipher.seal("s3cret"), cipher.seal("s3cret")
    assert a != b  # a fresh nonce each time
    assert b"s3cret" not in a
    assert cipher.open(a) == cipher.open(b) == "s3cret"


def test_tampered_blob_or_wrong_key_is_refused():
    cipher = CredentialCipher(bytes(range(32)))
    blob = bytearray(cipher.seal("s3cret"))
    blob[20] ^= 1
    with pytest.raises(CredentialError, match="tampered"):
        cipher.open(bytes(blob))
    with pytest.raises(CredentialError, match="wrong key"):
        CredentialCipher(bytes(32)).open(cipher.seal("x"))
    with pytest.raises(CredentialError, match="not a sealed"):
        cipher.open(b"short")


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "secrets" / "credentials.key"
    with pytest.raises(CredentialError, match="does not exist"):
        load_key("", path)
    key = load_key("", path, create=True)
    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key("", path) == key
    assert load_key("ab" * 32, path) == bytes.fromhex("ab" * 32)
    with pytest.raises(CredentialError, match="64 hex digits"):
        load_key("zz", path)


def test_network_credentials_seal_chap_only_with_a_key(tmp_path):
    key = load_key("", tmp_path / "key", create=True)
    nt_hash, sealed = network_credentials("net-pass", key)
    assert nt_hash == nt_password_hash("net-pass")
    assert CredentialCipher(key).open(sealed) == "net-pass"
    assert network_credentials("net-pass", None) == (nt_hash, None)  # no stale CHAP secret
    assert optional_key("", tmp_path / "absent") is None
    assert optional_key("", tmp_path / "key") == key
