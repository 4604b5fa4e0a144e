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
    a, b = cipher.seal("s3cret", 5), cipher.seal("s3cret", 5)
    assert a != b  # a fresh nonce each time
    assert b"s3cret" not in a
    assert cipher.open(a, 5) == cipher.open(b, 5) == "s3cret"


def test_tampered_blob_or_wrong_key_is_refused():
    cipher = CredentialCipher(bytes(range(32)))
    blob = bytearray(cipher.seal("s3cret", 5))
    blob[20] ^= 1
    with pytest.raises(CredentialError, match="tampered"):
        cipher.open(bytes(blob), 5)
    with pytest.raises(CredentialError, match="wrong key"):
        CredentialCipher(bytes(32)).open(cipher.seal("x", 5), 5)
    with pytest.raises(CredentialError, match="not a sealed"):
        cipher.open(b"short", 5)


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
    nt_hash, sealed = network_credentials("net-pass", key, 3)
    assert nt_hash == nt_password_hash("net-pass")
    assert CredentialCipher(key).open(sealed, 3) == "net-pass"
    assert network_credentials("net-pass", None, 3) == (nt_hash, None)  # no stale CHAP secret
    assert optional_key("", tmp_path / "absent") is None
    assert optional_key("", tmp_path / "key") == key


def test_a_sealed_password_opens_only_for_its_own_subaccount():
    cipher = CredentialCipher(bytes(range(32)))
    blob = cipher.seal("s3cret", 41)
    assert blob[:1] == b"\x02" and CredentialCipher.is_bound(blob)
    assert cipher.open(blob, 41) == "s3cret"
    with pytest.raises(CredentialError, match="another subaccount"):
        cipher.open(blob, 42)


def test_a_value_sealed_before_the_binding_still_opens_unbound():
    """Format 1 (no associated data): what an upgraded database holds until re-sealed."""
    from Crypto.Cipher import AES

    key, nonce = bytes(range(32)), bytes(12)
    body, tag = AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(b"old-pass")
    legacy = b"\x01" + nonce + body + tag
    assert not CredentialCipher.is_bound(legacy)
    assert CredentialCipher(key).open(legacy, 1) == CredentialCipher(key).open(legacy, 2)
    with pytest.raises(CredentialError, match="not a sealed"):
        CredentialCipher(key).open(b"\x03" + legacy[1:], 1)
