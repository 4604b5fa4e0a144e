"""``pattern.ini``: how each bank or agent writes its payment statements.

The format is ExpertBilling 1.5's (its guide, "Импорт платежей"), so an operator's file
keeps working unchanged: one section per source, its folders, the file masks, the
encoding and the ordered columns of a line. The guide spells some keys two ways
(``folderin`` and ``folder_in``, ``mask`` and ``file_mask`` …); both are read, and a
section naming one thing both ways is refused rather than guessed at.
"""

from __future__ import annotations

import codecs
import configparser
from dataclasses import dataclass
from pathlib import Path

from billing.errors import Refused

# The column tokens of ``fieldnames``, as in the guide.
TOKENS = ("DATETIME", "TIME", "ACC", "FIO", "SUM", "PID", "COMMENT", "EMPTY")

# Each key under its own name, then the guide's other spelling.
_SPELLINGS = {
    "folder_in": ("folder_in", "folderin"),
    "folder_out": ("folder_out", "folderout"),
    "folder_err": ("folder_err", "foldererr"),
    "file_mask": ("file_mask", "mask"),
    "exclude_mask": ("exclude_mask", "rmask"),
}
_KNOWN = {spelling for pair in _SPELLINGS.values() for spelling in pair} | {
    "active", "separator", "encoding", "payment_type", "fieldnames", "fielddefault",
    "datetime_fmt", "time_fmt", "skip_firstline", "reversal_payments"}


class PatternError(Refused):
    """A pattern file or section that cannot be used; the message names the section and
    the key. Codes: ``no_file``, ``bad_file``, ``bad_section``."""


@dataclass(frozen=True, slots=True)
class Section:
    """One source of statements, its folders resolved to absolute paths."""

    name: str
    active: bool
    folder_in: Path
    folder_out: Path
    folder_err: Path
    file_mask: str
    exclude_mask: str
    separator: str
    encoding: str
    payment_type: str
    fieldnames: tuple[str, ...]
    fielddefault: tuple[str, ...]
    datetime_fmt: str
    time_fmt: str
    skip_firstline: bool
    reversal_payments: bool

    @property
    def source(self) -> str:
        """The payments' source in the ledger: the section's ``payment_type`` when it has
        one, so a reversal section naming the same type cancels that source's payments
        (the guide keeps reversal files of a bank beside its payment files), else
        ``import:<section>``."""
        return self.payment_type or f"import:{self.name}"


def load(path: Path, base_dir: Path | None = None) -> list[Section]:
    """Every section of ``path`` in file order; relative folders are under ``base_dir``
    (None: the pattern file's directory)."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise PatternError("no_file", f"pattern file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise PatternError("bad_file", f"cannot read pattern file {path}: {exc}") from None
    base = base_dir or path.parent
    return [_section(name, parser[name], base) for name in parser.sections()]


def _section(name: str, raw: configparser.SectionProxy, base: Path) -> Section:
    def fail(message: str) -> PatternError:
        return PatternError("bad_section", f"pattern section [{name}]: {message}")

    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}")
    values = {key: _one_spelling(raw, spellings, fail) for key, spellings in _SPELLINGS.items()}
    folders = {}
    for key in ("folder_in", "folder_out", "folder_err"):
        if not values[key]:
            raise fail(f"{key} is missing")
        folders[key] = (base / values[key]).resolve()
    if len(set(folders.values())) != 3:
        raise fail("folder_in, folder_out and folder_err must be three different folders")
    separator = raw.get("separator", ";")
    if len(separator) != 1:
        raise fail(f"separator must be one character, got {separator!r}")
    encoding = raw.get("encoding", "").strip() or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise fail(f"unknown encoding {encoding!r}") from None
    fieldnames = tuple(t.strip().upper() for t in raw.get("fieldnames", "").split(separator))
    bad = [t for t in fieldnames if t not in TOKENS]
    if bad:
        raise fail(f"fieldnames holds {', '.join(map(repr, bad))}; known: {', '.join(TOKENS)}")
    reversal = _flag(raw, "reversal_payments", False, fail)
    needed = ("PID",) if reversal else ("ACC", "SUM")
    missing = [column for column in needed if column not in fieldnames]
    if missing:
        raise fail(f"fieldnames must name {' and '.join(missing)}")
    twice = sorted({c for c in fieldnames if c != "EMPTY" and fieldnames.count(c) > 1})
    if twice:
        raise fail(f"fieldnames names {', '.join(twice)} more than once")
    written = raw.get("fielddefault", "")
    defaults = tuple(written.split(separator)) if written else ()
    if defaults and len(defaults) not in (len(fieldnames), len(fieldnames) + 1):
        raise fail(f"fielddefault has {len(defaults)} values for {len(fieldnames)} fields")
    datetime_fmt = raw.get("datetime_fmt", "").strip()
    time_fmt = raw.get("time_fmt", "").strip()
    if "DATETIME" in fieldnames and not datetime_fmt:
        raise fail("fieldnames has DATETIME but datetime_fmt is empty")
    if "TIME" in fieldnames and not (time_fmt and "DATETIME" in fieldnames):
        raise fail("a TIME column needs a DATETIME column and time_fmt")
    return Section(
        name=name, active=_flag(raw, "active", True, fail), **folders,
        file_mask=values["file_mask"] or "*", exclude_mask=values["exclude_mask"],
        separator=separator, encoding=codecs.lookup(encoding).name,
        payment_type=raw.get("payment_type", "").strip(), fieldnames=fieldnames,
        fielddefault=defaults[:len(fieldnames)], datetime_fmt=datetime_fmt,
        time_fmt=time_fmt, skip_firstline=_flag(raw, "skip_firstline", False, fail),
        reversal_payments=reversal)


def _one_spelling(raw: configparser.SectionProxy, spellings: tuple[str, str], fail) -> str:
    given = {s: raw[s].strip() for s in spellings if s in raw}
    if len(given) > 1 and len(set(given.values())) > 1:
        raise fail(f"{' and '.join(given)} name the same setting with different values")
    return next(iter(given.values()), "")


def _flag(raw: configparser.SectionProxy, key: str, default: bool, fail) -> bool:
    """The guide writes flags as 1/0 and True/False; an empty value is the default."""
    if not raw.get(key, "").strip():
        return default
    try:
        return raw.getboolean(key)
    except ValueError:
        raise fail(f"{key} must be 1/0 or True/False, got {raw[key]!r}") from None
