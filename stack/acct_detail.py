"""FreeRADIUS detail-file entries as ebs_acct_apply's arguments (the accounting spool).

The detail module writes one entry per packet: a header line (the time), one
``<tab>Name = value`` line per attribute, then a blank line. Strings are quoted, with
backslash escapes for backslash, quote, CR, LF, tab and (octal) other bytes;
enumerations by name; dates as ``Nov 28 2026 22:40:42 UTC`` in the server's zone; octets
as ``0x`` hex. A row built here carries the same values rlm_sql's accounting query passes
(accounting.conf), so a spooled packet is applied exactly as a live one.
"""

from __future__ import annotations

import calendar
import functools
import ipaddress
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

_UINT32 = 2**32 - 1
_INT32 = 2**31 - 1

# The columns of one batch row, in ebs_acct_apply's argument order (plus bookkeeping).
ROW_COLUMNS = (
    "seq", "status", "unique_id", "session_id", "username", "nas_ip", "framed_ip",
    "calling", "called", "port_id", "in_oct", "in_gw", "out_oct", "out_gw",
    "session_time", "event_time", "cause", "interim_interval", "delay", "arrival",
    "class",
)


class MalformedEntry(ValueError):
    """A spool entry that cannot be applied; the drain logs it and moves on."""


@dataclass(frozen=True)
class Entry:
    """One parsed detail-file entry: its attributes, or why it could not be read."""

    start: int  # byte offset of its header line
    end: int  # byte offset just past it
    attributes: dict[str, str] | None
    error: str | None = None


def _unquote(text: str) -> str:
    """A value as FreeRADIUS printed it: quoted with \\\\, \\", \\n, \\r, \\t and \\ooo."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        if text.startswith('"'):
            raise MalformedEntry(f"unterminated string {text[:40]!r}")
        return text
    body = text[1:-1]
    if "\\" not in body:
        return body
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt[:1].isdigit() and body[i + 1:i + 4].isdigit():
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        elif nxt in ("n", "r", "t"):
            out += {"n": b"\n", "r": b"\r", "t": b"\t"}[nxt]
            i += 2
        elif nxt:
            out += nxt.encode("utf-8", "surrogateescape")
            i += 2
        else:
            raise MalformedEntry(f"dangling backslash in {text[:40]!r}")
    # Bytes that are not UTF-8, and NUL (which no text column holds), become U+FFFD:
    # the packet is applied, stored as the live mode stores it (ebs_hex_text()).
    return out.decode("utf-8", "replace").replace("\x00", "\ufffd")


_ATTRIBUTE_LINE = re.compile(r"^[ \t]+([^ \t\n]+) = ([^\n]*)$", re.M)


def _parse_entry(text: str) -> tuple[dict[str, str] | None, str | None]:
    """One entry's lines (header first) into attributes, or the reason it is unreadable."""
    pairs = _ATTRIBUTE_LINE.findall(text)
    if len(pairs) == text.count("\n") and not text[:1].isspace():
        try:
            return {name: _unquote(value) if value[:1] == '"' else value
                    for name, value in pairs}, None
        except MalformedEntry as exc:
            return None, str(exc)
    lines = text.split("\n")
    if lines[0][:1].isspace():
        return None, "attribute line without a header"
    attrs: dict[str, str] = {}
    for line in lines[1:]:
        if not line[:1].isspace():
            return None, "entry without its blank line"
        name, sep, value = line.strip().partition(" = ")
        if not sep or not name:
            return None, f"unreadable line {line.strip()[:60]!r}"
        if value[:1] == '"':
            try:
                value = _unquote(value)
            except MalformedEntry as exc:
                return None, str(exc)
        attrs[name] = value
    return attrs, None


def read_entries(fh, start: int = 0, chunk: int = 4 << 20) -> Iterator[Entry]:
    """Entries from ``start`` to the end of an open binary file.

    An entry is a header line (the time), tab-indented ``Name = value`` lines and a blank
    line. A line that fits nowhere, or an entry cut off by the end of the file, comes
    out as an Entry with an error (and no attributes) so the caller can log and skip it.
    The file is read in large chunks and split at blank lines: the drain's speed is
    mostly this loop's.
    """
    fh.seek(start)
    offset, pending = start, b""
    while True:
        data = fh.read(chunk)
        if not data:
            break
        pieces = (pending + data).split(b"\n\n")
        pending = pieces.pop()
        for piece in pieces:
            begin = offset + len(piece) - len(piece.lstrip(b"\n"))
            offset += len(piece) + 2
            piece = piece.strip(b"\n")
            if piece:
                attrs, error = _parse_entry(piece.decode("utf-8", "surrogateescape"))
                yield Entry(begin, offset, attrs, error)
    tail = pending.strip(b"\n")
    if tail:
        begin = offset + len(pending) - len(pending.lstrip(b"\n"))
        _, error = _parse_entry(tail.decode("utf-8", "surrogateescape"))
        cut = "truncated at the end of the file"
        yield Entry(begin, offset + len(pending), None, f"{cut} ({error})" if error else cut)


def _integer(attrs: dict[str, str], name: str, limit: int, default: int | None = 0) -> int | None:
    value = attrs.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) > limit:
        raise MalformedEntry(f"{name} = {value!r} is not an integer up to {limit}")
    return int(value)


def _address(attrs: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = attrs.get(name)
        if value:
            return _checked_address(name, value)
    return None


@functools.lru_cache(maxsize=65536)
def _checked_address(name: str, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise MalformedEntry(f"{name} = {value!r} is not an address") from None


@functools.lru_cache(maxsize=4096)
def _event_time(value: str | None) -> datetime | None:
    """Event-Timestamp as the detail module prints it: ``Nov 28 2026 22:40:42 UTC`` in
    the server's local zone; the drain runs on the same host, so local time reads back."""
    if not value:
        return None
    parts = value.split()
    if len(parts) != 5:
        raise MalformedEntry(f"Event-Timestamp = {value!r}")
    try:
        moment = time.strptime(" ".join(parts[:4]), "%b %d %Y %H:%M:%S")
    except ValueError:
        raise MalformedEntry(f"Event-Timestamp = {value!r}") from None
    if parts[4] in ("UTC", "GMT"):
        epoch = calendar.timegm(moment)
    else:
        epoch = time.mktime((*moment[:8], -1))
    return datetime.fromtimestamp(epoch, UTC)


def batch_row(seq: int, attrs: dict[str, str]) -> tuple:
    """One entry as ebs_acct_apply's arguments (the same defaults as accounting.conf)."""
    status = attrs.get("Acct-Status-Type")
    if not status:
        raise MalformedEntry("no Acct-Status-Type")
    arrival = _integer(attrs, "Timestamp", 2**40, default=None)
    return (
        seq, status, attrs.get("Acct-Unique-Session-Id", ""),
        attrs.get("Acct-Session-Id", ""), attrs.get("User-Name", ""),
        _address(attrs, "NAS-IPv6-Address", "NAS-IP-Address", "Packet-Src-IP-Address",
                 "Packet-Src-IPv6-Address"),
        _address(attrs, "Framed-IP-Address", "Framed-IPv6-Address"),
        attrs.get("Calling-Station-Id", ""), attrs.get("Called-Station-Id", ""),
        attrs.get("NAS-Port-Id") or attrs.get("NAS-Port", ""),
        _integer(attrs, "Acct-Input-Octets", _UINT32),
        _integer(attrs, "Acct-Input-Gigawords", _UINT32),
        _integer(attrs, "Acct-Output-Octets", _UINT32),
        _integer(attrs, "Acct-Output-Gigawords", _UINT32),
        _integer(attrs, "Acct-Session-Time", _INT32),
        _event_time(attrs.get("Event-Timestamp")),
        attrs.get("Acct-Terminate-Cause", ""),
        _integer(attrs, "Acct-Interim-Interval", _INT32, default=None),
        _integer(attrs, "Acct-Delay-Time", _INT32),
        float(arrival) if arrival is not None else time.time(),
        attrs.get("Class") or None,
    )
