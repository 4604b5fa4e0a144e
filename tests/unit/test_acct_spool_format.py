"""Reading FreeRADIUS detail entries as the spool drain does (billing.acct_detail)."""

import io
from datetime import UTC, datetime

import pytest

from billing.acct_detail import MalformedEntry, batch_row, read_entries

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
