"""Bank-statement import: every file of a ``pattern.ini`` section credited line by line,
each payment once, whatever happens to the machine on the way.

A good line becomes a payment through :func:`billing.payments.post_payment` with the
section's source and the line's PID (``billing/statement_lines.py`` says what identifies
a line without one), so a line seen before credits nothing; a reversal section cancels
the payment of that source and PID through :func:`billing.payments.reverse_entry`. A bad
line rolls back alone (a savepoint each) and goes, with its reason, to the file's error
file in ``folder_err``; the rest of the file is still applied.

A file is applied in batches, each one transaction that also records in
``statement_files`` how far it got; a run killed between batches leaves the file in
``folder_in``, and the next run reads it again from the top: the lines already committed
find their ledger keys and credit nothing, the rest are credited. The error file is
written whole and renamed into place (it always tells the file's latest reading: an
operator who adds a missing account and drops the file in again sees it go), the journal
row marked done, and only then is the file moved to ``folder_out``, so each step is safe
to repeat.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg

from billing import payments
from billing.errors import Refused
from billing.statement_lines import BadLine, StatementLine, read_lines
from billing.statement_pattern import Section, load

DEFAULT_BATCH_LINES = 200


@dataclass(slots=True)
class FileResult:
    """What one file gave: lines read (blank lines and a skipped header not counted),
    credited (a payment or reversal posted now), already seen (posted by an earlier run),
    errors (in ``err_file``)."""

    section: str
    name: str
    lines: int = 0
    credited: int = 0
    already_seen: int = 0
    errors: int = 0
    moved_to: Path | None = None
    err_file: Path | None = None


@dataclass(slots=True)
class ImportResult:
    """Every file of every section read, and the sections that could not be read at all
    (another run holds them, a folder is missing) with the reason."""

    files: list[FileResult] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or self.total("errors") > 0

    def metric_line(self) -> str:
        return (f"files={len(self.files)} lines={self.total('lines')} "
                f"credited={self.total('credited')} already_seen={self.total('already_seen')} "
                f"errors={self.total('errors')} problems={len(self.problems)}")


def pattern_path(settings: SimpleNamespace) -> Path:
    """The pattern file in force (``PAYMENTS_IMPORT_PATTERN``, else under STATE_DIR)."""
    named = settings.PAYMENTS_IMPORT_PATTERN
    return Path(named) if named else Path(settings.STATE_DIR) / "payments" / "pattern.ini"


def configured_sections(settings: SimpleNamespace) -> list[Section]:
    """The pattern file's sections, folders resolved against ``PAYMENTS_IMPORT_DIR``."""
    base = settings.PAYMENTS_IMPORT_DIR
    return load(pattern_path(settings), Path(base) if base else None)


def import_statements(
    conn: psycopg.Connection,
    sections: Sequence[Section],
    *,
    zone: ZoneInfo,
    min_age_seconds: float = 60,
    batch_lines: int = DEFAULT_BATCH_LINES,
    maximum: Decimal | None = None,
    now: datetime | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> ImportResult:
    """Import every waiting file of the active ``sections`` over ``conn`` (autocommit: a
    batch is a transaction); ``maximum`` is the largest payment (None: the configured
    one). ``on_file`` hears of each file when it is done."""
    maximum = payments.maximum_amount() if maximum is None else maximum
    result = ImportResult()
    for section in sections:
        if not section.active:
            continue
        if not _try_lock(conn, section):
            result.problems.append((section.name, "another import is reading this section"))
            continue
        try:
            for path in waiting_files(section, min_age_seconds):
                done = import_file(conn, section, path, zone=zone, batch_lines=batch_lines,
                                   maximum=maximum, now=now)
                result.files.append(done)
                if on_file:
                    on_file(done)
        except OSError as exc:
            result.problems.append((section.name, str(exc)))
        finally:
            _unlock(conn, section)
    return result


def waiting_files(section: Section, min_age_seconds: float) -> list[Path]:
    """Regular files of ``folder_in`` matching ``file_mask`` and not ``exclude_mask``
    (case-sensitive, as the folder's names are), unchanged for ``min_age_seconds``, by
    name: statements are named by date, so this is their order."""
    if not section.folder_in.is_dir():
        raise FileNotFoundError(f"folder_in {section.folder_in} does not exist")
    limit = datetime.now(UTC).timestamp() - min_age_seconds
    found = []
    for entry in os.scandir(section.folder_in):
        if not entry.is_file(follow_symlinks=False):
            continue
        if not fnmatch.fnmatchcase(entry.name, section.file_mask):
            continue
        if section.exclude_mask and fnmatch.fnmatchcase(entry.name, section.exclude_mask):
            continue
        if entry.stat().st_mtime > limit:
            continue
        found.append(Path(entry.path))
    return sorted(found)


def import_file(conn: psycopg.Connection, section: Section, path: Path, *, zone: ZoneInfo,
                batch_lines: int = DEFAULT_BATCH_LINES, maximum: Decimal | None = None,
                now: datetime | None = None) -> FileResult:
    """Apply one file, write its error file, record it done, move it to ``folder_out``."""
    maximum = payments.maximum_amount() if maximum is None else maximum
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    file_id = _start(conn, section, path.name, digest)
    result = FileResult(section.name, path.name)
    bad: list[BadLine] = []
    parsed = list(read_lines(section, data, zone, now or datetime.now(UTC)))
    for start in range(0, len(parsed), batch_lines):
        batch = parsed[start:start + batch_lines]
        with conn.transaction():
            _apply_batch(conn, section, path.name, batch, maximum, result, bad)
            conn.execute("UPDATE statement_files SET lines_done = %s WHERE id = %s",
                         (start + len(batch), file_id))
    result.lines = len(parsed)
    result.errors = len(bad)
    target = _out_name(section.folder_out, path.name, digest)
    err_file = section.folder_err / f"{target}.err"
    if bad:
        result.err_file = err_file
        _write_atomically(err_file, _err_text(section, path.name, bad))
    else:  # read again once its contracts exist: no line of it is in error any more
        err_file.unlink(missing_ok=True)
    conn.execute(
        "UPDATE statement_files SET state = 'done', finished_at = now(), credited = %s,"
        " already_seen = %s, errors = %s WHERE id = %s",
        (result.credited, result.already_seen, result.errors, file_id))
    result.moved_to = _move(path, section.folder_out / target, digest)
    return result


def _apply_batch(conn: psycopg.Connection, section: Section, file_name: str,
                 batch: list[StatementLine | BadLine], maximum: Decimal,
                 result: FileResult, bad: list[BadLine]) -> None:
    contracts = {line.contract for line in batch
                 if isinstance(line, StatementLine) and line.contract}
    accounts = dict(conn.execute("SELECT contract, id FROM accounts WHERE contract = ANY(%s)",
                                 (list(contracts),)).fetchall())
    for line in batch:
        if isinstance(line, BadLine):
            bad.append(line)
            continue
        try:
            with conn.transaction():
                created = _apply_line(conn, section, file_name, line, accounts, maximum)
        except Refused as exc:
            bad.append(BadLine(line.number, line.text, exc.code, str(exc)))
            continue
        if created:
            result.credited += 1
        else:
            result.already_seen += 1


def _apply_line(conn: psycopg.Connection, section: Section, file_name: str,
                line: StatementLine, accounts: dict[str, int], maximum: Decimal) -> bool:
    """Post the line's payment or reversal; True when this call posted it."""
    account_id = accounts.get(line.contract) if line.contract else None
    if line.contract and account_id is None:
        raise Refused("unknown_contract", f"no account has the contract {line.contract!r}")
    where = f"{section.name} {file_name} line {line.number}"
    if section.reversal_payments:
        return _reverse(conn, section, line, account_id, where)
    comment = "; ".join(part for part in (line.payer, line.comment) if part)
    paid = payments.post_payment(conn, account_id, line.amount, source=section.source,
                                 unique_id=line.unique_id, at=line.moment, maximum=maximum,
                                 comment=f"{where}: {comment}" if comment else where)
    return paid.created


def _reverse(conn: psycopg.Connection, section: Section, line: StatementLine,
             account_id: int | None, where: str) -> bool:
    """Cancel the payment of this source with the line's PID; the line's contract and sum,
    when it gives them, must be the payment's (a reversal of someone else's money is a
    mistake to show, not to make)."""
    key = payments.payment_key(section.source, line.pid)
    row = conn.execute("SELECT id, account_id, amount FROM ledger_entries"
                       " WHERE idempotency_key = %s", (key,)).fetchone()
    if row is None:
        raise Refused("no_payment", f"no payment from {section.source} has the PID {line.pid!r}")
    entry_id, paid_account, paid_amount = row
    if account_id is not None and account_id != paid_account:
        raise Refused("reversal_mismatch",
                      f"payment {line.pid!r} was credited to another contract")
    if line.amount is not None and line.amount.copy_abs() != paid_amount:
        raise Refused("reversal_mismatch",
                      f"payment {line.pid!r} was {paid_amount}, the line says {line.amount}")
    reversal = payments.reverse_entry(conn, entry_id, reason=where, at=line.moment)
    return reversal.created


def _start(conn: psycopg.Connection, section: Section, name: str, digest: str) -> int:
    return conn.execute(
        """
        INSERT INTO statement_files (section, file_name, sha256) VALUES (%s, %s, %s)
        ON CONFLICT ON CONSTRAINT statement_files_once DO UPDATE
           SET state = 'reading', runs = statement_files.runs + 1, lines_done = 0,
               credited = 0, already_seen = 0, errors = 0, started_at = now(),
               finished_at = NULL
        RETURNING id
        """, (section.name, name, digest)).fetchone()[0]


def _out_name(folder: Path, name: str, digest: str) -> str:
    """The file's name in ``folder_out``: its own, unless another file of that name is
    there already (a bank reusing a name), then with its digest's start appended."""
    existing = folder / name
    if not existing.exists() or _digest(existing) == digest:
        return name
    return f"{name}.{digest[:12]}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _err_text(section: Section, name: str, bad: list[BadLine]) -> str:
    head = f"# {section.name}: {name}, {len(bad)} line(s) not imported\n"
    body = "".join(f"line {b.number}\t{b.code}: {b.reason}\t{b.text}\n"
                   for b in sorted(bad, key=lambda b: b.number))
    return head + body


def _write_atomically(path: Path, text: str) -> None:
    """Written whole under a temporary name, flushed, then renamed over: a reader (or a
    run repeating this one) never sees half an error file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _move(source: Path, target: Path, digest: str) -> Path:
    """Move a read file to ``folder_out``. The same content already there (an earlier run
    moved a copy and was killed before removing the original) only removes the original;
    another file system is copied to a temporary name, renamed, then the original removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _digest(target) == digest:
        source.unlink()
        return target
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # folder_out is on another file system
            raise
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        source.unlink()
    _sync_folder(target.parent)
    _sync_folder(source.parent)
    return target


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _try_lock(conn: psycopg.Connection, section: Section) -> bool:
    """One run per section at a time (the beat's and an operator's command may meet): the
    ledger keys would keep money right, but two runs moving the same file would trip."""
    return conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)::bigint)",
                        (_lock_name(section),)).fetchone()[0]


def _unlock(conn: psycopg.Connection, section: Section) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s)::bigint)", (_lock_name(section),))


def _lock_name(section: Section) -> str:
    return f"ebs.import_payments:{section.name}"


def run_configured(conn: psycopg.Connection, settings: SimpleNamespace, *,
                   section_names: Sequence[str] = (), **options) -> ImportResult:
    """The configured sections (``section_names`` only, when given) imported with the
    settings' zone and minimum age unless ``options`` say otherwise."""
    sections = configured_sections(settings)
    if section_names:
        known = {s.name for s in sections}
        missing = [n for n in section_names if n not in known]
        if missing:
            raise Refused("no_section",
                          f"pattern file has no section {', '.join(map(repr, missing))}")
        sections = [s for s in sections if s.name in section_names]
        idle = [s.name for s in sections if not s.active]
        if idle:
            raise Refused("inactive_section",
                          f"section {', '.join(map(repr, idle))} is not active (active=0)")
    options.setdefault("min_age_seconds", settings.PAYMENTS_IMPORT_MIN_AGE_SECONDS)
    options.setdefault("maximum", settings.PAYMENT_MAX_AMOUNT)
    return import_statements(conn, sections, zone=ZoneInfo(settings.TIME_ZONE), **options)

