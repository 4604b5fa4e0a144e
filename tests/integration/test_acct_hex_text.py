"""ebs_hex_text() (rlm_sql's live accounting text) decodes exactly as the spool does:
Python's bytes.decode('utf-8', 'replace'), with NUL, which text cannot hold, as U+FFFD."""

from hypothesis import given, settings
from hypothesis import strategies as st

# Bytes around every boundary of RFC 3629's table, so random strings hit the edge cases.
EDGES = [0x00, 0x01, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
         0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]


def spool_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def hex_text(conn, raw: bytes) -> str:
    return conn.execute("SELECT ebs_hex_text(%s)", (raw.hex(),)).fetchone()[0]


@settings(max_examples=500)
@given(st.lists(st.one_of(st.sampled_from(EDGES), st.integers(0, 255)), max_size=24)
       .map(bytes))
def test_any_bytes_decode_as_the_spool_decodes_them(conn, raw):
    assert hex_text(conn, raw) == spool_text(raw)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_valid_text_comes_back_unchanged(conn, text):
    raw = text.encode("utf-8", "surrogatepass")
    assert hex_text(conn, raw) == spool_text(raw)


def test_examples(conn):
    assert hex_text(conn, b"") == ""
    assert hex_text(conn, b"a'b\\c\n\r\t\"") == "a'b\\c\n\r\t\""
    assert hex_text(conn, "Дмитрий 😀".encode()) == "Дмитрий 😀"
    # A truncated sequence is one U+FFFD; a surrogate's bytes are three.
    assert hex_text(conn, b"x\xe2\x82y") == "x\ufffdy"
    assert hex_text(conn, b"\xed\xa0\x80") == "\ufffd" * 3
    assert hex_text(conn, b"a\x00b") == "a\ufffdb"
