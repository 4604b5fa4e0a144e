"""Reading FreeRADIUS detail entries as the spool drain does (stack.acct_detail)."""

import io
from datetime import UTC, datetime

import pytest

from stack.acct_detail import MalformedEntry, batch_row, read_entries

ENTRY = (b"Sat Nov 28 22:42:29 2026\n"
         b"\tPacket-Src-IP-Address = 192.0.2.9\n"
         b"\tAcct-Status-Type = Stop\n"
         b"\tUser-Name = \"al\\\"ice\\001\xc3\xa9\\\\\"\n"
         b"\tEvent-Timestamp = \"Nov 30 2026 00:53:20 UTC\"\n"
         b"\tAcct-Input-Octets = 5\n"
         b"\tAcct-Input-Gigawords = 2\n"
         b"\tAcct-Terminate-Cause = User-Request\n"
         b"\tAcct-Unique-Session-Id = \"abc\"\n"
         b"\tClass = 0x6562733a313a32\n"
         b"\tTimestamp = 1795905749\n\n")


def test_an_entry_becomes_ebs_acct_apply_arguments():
    [entry] = list(read_entries(io.BytesIO(ENTRY)))
    assert (entry.start, entry.end, entry.error) == (0, len(ENTRY), None)
    row = batch_row(0, entry.attributes)
    assert row[1:6] == ("Stop", "abc", "", 'al"ice\x01é\\', "192.0.2.9")
    assert (row[10], row[11]) == (5, 2)
    assert row[15] == datetime(2026, 11, 30, 0, 53, 20, tzinfo=UTC)
    assert row[16] == "User-Request"
    assert row[-2:] == (1795905749.0, "0x6562733a313a32")  # arrival, Class as rlm_sql has it


def test_broken_entries_are_reported_and_the_next_one_still_reads():
    data = (b"Sat\n\tAcct-Status-Type = Start\n\tbroken line\n\n"
            b"\tAcct-Status-Type = Start\n\n" + ENTRY + b"Sat\n\tUser-Name = \"cut")
    entries = list(read_entries(io.BytesIO(data)))
    assert [e.attributes is None for e in entries] == [True, True, False, True]
    assert "unreadable line" in entries[0].error
    assert "without a header" in entries[1].error
    assert entries[3].error.startswith("truncated at the end of the file")
    assert entries[3].end == len(data)


@pytest.mark.parametrize("name,value", [("Acct-Input-Octets", "-1"),
                                        ("Acct-Input-Octets", "4294967296"),
                                        ("Framed-IP-Address", "10.0.0.300"),
                                        ("Event-Timestamp", "yesterday")])
def test_values_out_of_range_are_malformed(name, value):
    with pytest.raises(MalformedEntry):
        batch_row(0, {"Acct-Status-Type": "Start", name: value})
    with pytest.raises(MalformedEntry):
        batch_row(0, {"User-Name": "no status"})


def detail_quoted(value: str) -> bytes:
    """A string as FreeRADIUS's detail module prints it (seen in its files): backslash,
    quote, CR, LF and tab escaped, other control bytes in octal, UTF-8 as it is."""
    out = bytearray(b'"')
    for byte in value.encode():
        char = chr(byte)
        if char in '\\"':
            out += b"\\" + char.encode()
        elif char in "\n\r\t":
            out += {"\n": b"\\n", "\r": b"\\r", "\t": b"\\t"}[char]
        elif byte < 32:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


HOSTILE = [
    "o'brien\"; DROP TABLE sessions_open; --",
    "two\n\nlines\n\tAcct-Status-Type = Stop",  # would end the entry and start another
    "Sun Nov 29 01:00:00 2026\n\tUser-Name = \"evil\"",
    "ctrl\x01\x1f\r\\0\\\\",
    "ж" * 126 + "z",  # 253 bytes of UTF-8
    ("\\\"\n" * 85)[:253],  # 253 bytes that are all escaped
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_read_back_exactly_and_stay_one_entry(value):
    assert len(value.encode()) <= 253
    quoted = detail_quoted(value)
    data = b"".join(
        b"Sun Nov 29 01:00:00 2026\n\tAcct-Status-Type = Start\n\tUser-Name = " + quoted
        + b"\n\tAcct-Session-Id = " + quoted + b"\n\tAcct-Unique-Session-Id = \"k%d\"\n\n" % n
        for n in range(2))
    entries = list(read_entries(io.BytesIO(data), chunk=7))  # entries cut across reads
    assert [e.error for e in entries] == [None, None]
    for n, found in enumerate(entries):
        row = batch_row(n, found.attributes)
        assert (row[1], row[2], row[3], row[4]) == ("Start", f"k{n}", value, value)


def test_bytes_that_are_not_utf8_and_nul_read_as_replacement_characters():
    data = (b"Sun Nov 29 01:00:00 2026\n\tAcct-Status-Type = Start\n"
            b"\tUser-Name = \"a\\000b\\377\\342\\202c\"\n\n")
    [entry] = list(read_entries(io.BytesIO(data)))
    assert batch_row(0, entry.attributes)[4] == "a\ufffdb\ufffd\ufffdc"
