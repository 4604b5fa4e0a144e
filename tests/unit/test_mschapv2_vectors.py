"""Our MS-CHAPv2 request builder against RFC 2759, section 9.2."""

from tests import mschapv2

USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")


def test_challenge_hash():
    assert mschapv2.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER).hex().upper() == (
        "D02E4386BCE91226"
    )


def test_password_hash():
    assert mschapv2.nt_password_hash(PASSWORD).hex().upper() == "44EBBA8D5312B8D611474411F56989AE"


def test_nt_response():
    response = mschapv2.nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD)
    assert response.hex().upper() == "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"


def test_authenticator_response():
    response = mschapv2.nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD)
    assert mschapv2.authenticator_response(
        PASSWORD, response, PEER_CHALLENGE, AUTH_CHALLENGE, USER
    ) == "S=407A5589115FD0D6209F510FE9C04566932CDA56"


def test_radius_attribute_layout():
    attrs = dict(mschapv2.radius_attributes(USER, PASSWORD, AUTH_CHALLENGE, PEER_CHALLENGE, 7))
    value = bytes.fromhex(attrs["MS-CHAP2-Response"][2:])
    assert len(value) == 50
    assert value[:2] == b"\x07\x00" and value[2:18] == PEER_CHALLENGE
    assert value[18:26] == b"\0" * 8
    assert value[26:].hex().upper() == "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
