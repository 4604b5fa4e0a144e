"""Bank-statement import on real files and a real database: cp1251 and cp855 statements
with Cyrillic names, both key spellings, a TIME column, a reversal file, broken lines, the
same file imported again, and a run killed with SIGKILL halfway then resumed. After each,
every balance equals its ledger."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner

from billing import ledger
from billing.statement_import import import_statements
from billing.statement_pattern import load
from cli.main import cli
from tests.conftest import ebs_env
from tests.integration.ledger_helpers import balance, make_account

ZONE = ZoneInfo("Europe/Moscow")

PATTERN = """\
[belpost]
active=1
folderin=belpost/IN/
folderout=belpost/OUT/
foldererr=belpost/ERR/
mask=*.alt
rmask=r*.alt
separator=;
payment_type=BELPOST_PAYMENT_IMPORT
encoding=cp1251
fieldnames=DATETIME;ACC;FIO;SUM;EMPTY;PID;EMPTY
fielddefault=;;;;;;
datetime_fmt=%d/%m/%Y %H:%M:%S
reversal_payments=False

[belpost_reversal]
active=1
folder_in=belpost/IN/
folder_out=belpost/OUT/
folder_err=belpost/ERR/
file_mask=r*.alt
separator=;
payment_type=BELPOST_PAYMENT_IMPORT
encoding=cp1251
fieldnames=DATETIME;ACC;FIO;SUM;EMPTY;PID;EMPTY
datetime_fmt=%d/%m/%Y %H:%M:%S
reversal_payments=True

[Belarusbank]
active=1
folder_in=Belarusbank/IN/
folder_out=Belarusbank/OUT/
folder_err=Belarusbank/ERR/
file_mask=*.asb
exclude_mask=lan.*
separator=;
payment_type=BELARUSBANK_PAYMENT_IMPORT
encoding=cp855
fieldnames=ACC;FIO;DATETIME;TIME;SUM;EMPTY;EMPTY;EMPTY;PID
datetime_fmt=%d/%m/%Y
time_fmt=%H:%M
reversal_payments=False

[cash]
active=1
folder_in=cash/IN/
folder_out=cash/OUT/
folder_err=cash/ERR/
file_mask=*.csv
separator=;
fieldnames=DATETIME;ACC;SUM;COMMENT
datetime_fmt=%Y-%m-%d %H:%M
encoding=utf-8

[idle]
active=0
folder_in=idle/IN/
folder_out=idle/OUT/
folder_err=idle/ERR/
fieldnames=ACC;SUM;PID
"""


@pytest.fixture
def pattern(tmp_path):
    path = tmp_path / "pattern.ini"
    path.write_text(PATTERN, encoding="utf-8")
    for name in ("belpost", "Belarusbank", "cash", "idle"):
        (tmp_path / name / "IN").mkdir(parents=True)
    return {s.name: s for s in load(path)}


def drop(section, name: str, lines: list[str], *, encoding: str | None = None,
         age: float = 120) -> Path:
    """A statement file in the section's folder_in, written ``age`` seconds ago."""
    path = section.folder_in / name
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode(
        encoding or section.encoding))
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def run(conn, *sections, **options):
    options.setdefault("min_age_seconds", 60)
    return import_statements(conn, sections, zone=ZONE, maximum=Decimal("100000.00"),
                             **options)


def counts(result) -> tuple[int, int, int, int]:
    return tuple(result.total(n) for n in ("lines", "credited", "already_seen", "errors"))


def entries(conn, source: str) -> list[tuple]:
    return conn.execute(
        "SELECT a.contract, e.kind, e.amount, e.effective_at, e.description"
        "  FROM ledger_entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE e.idempotency_key LIKE %s OR e.details->>'reverses' IN ("
        "       SELECT id::text FROM ledger_entries WHERE idempotency_key LIKE %s)"
        " ORDER BY e.id", (f"{source}:%", f"{source}:%")).fetchall()


@pytest.fixture(autouse=True)
def ledger_stays_whole(conn):
    yield
    assert ledger.verify(conn) == []


def test_a_cp1251_statement_with_the_guides_spellings_is_credited_and_moved(conn, pattern):
    belpost = pattern["belpost"]
    a, b = make_account(conn, "7001"), make_account(conn, "7002")
    drop(belpost, "20261201.alt", [
        "01/12/2026 09:15:00;7001;Иванов Иван Иванович;150.00;;BP-1;",
        "01/12/2026 10:20:30;7002;Щукина Ёлка;99,95;x;BP-2;y",
    ])
    result = run(conn, belpost)
    assert counts(result) == (2, 2, 0, 0)
    assert (balance(conn, a), balance(conn, b)) == (Decimal("150.00"), Decimal("99.95"))
    rows = entries(conn, "BELPOST_PAYMENT_IMPORT")
    assert [r[:3] for r in rows] == [("7001", "payment", Decimal("150.00")),
                                     ("7002", "payment", Decimal("99.95"))]
    assert rows[0][3] == datetime(2026, 12, 1, 9, 15, tzinfo=ZONE)
    assert rows[0][4] == "belpost 20261201.alt line 1: Иванов Иван Иванович"
    assert rows[1][4] == "belpost 20261201.alt line 2: Щукина Ёлка"
    assert not list(belpost.folder_in.iterdir())
    assert (belpost.folder_out / "20261201.alt").exists()
    assert not belpost.folder_err.exists() or not list(belpost.folder_err.iterdir())
    assert conn.execute("SELECT state, runs, lines_done, credited, errors FROM statement_files"
                        ).fetchall() == [("done", 1, 2, 2, 0)]


def test_a_cp855_statement_with_a_time_column(conn, pattern):
    bank = pattern["Belarusbank"]
    account = make_account(conn, "8001")
    drop(bank, "dec03.asb", ["8001;Петров Пётр;03/12/2026;17:45;250,50;;;;BB-77"])
    drop(bank, "lan.asb", ["8001;Петров Пётр;03/12/2026;17:45;1.00;;;;BB-78"])  # excluded
    assert counts(run(conn, bank)) == (1, 1, 0, 0)
    [row] = entries(conn, "BELARUSBANK_PAYMENT_IMPORT")
    assert row[:4] == ("8001", "payment", Decimal("250.50"),
                       datetime(2026, 12, 3, 17, 45, tzinfo=ZONE))
    assert "Петров Пётр" in row[4]
    assert balance(conn, account) == Decimal("250.50")
    assert [p.name for p in bank.folder_in.iterdir()] == ["lan.asb"]


def test_bad_lines_go_to_the_error_folder_and_the_rest_is_credited(conn, pattern):
    belpost = pattern["belpost"]
    account = make_account(conn, "7001")
    lines = [
        "01/12/2026 09:00:00;7001;Иванов;100.00;;OK-1;",
        "31/11/2026 09:00:00;7001;Иванов;100.00;;BAD-DATE;",
        "01/12/2026 09:00:00;9999;Никто;100.00;;NO-ACC;",
        "01/12/2026 09:00:00;7001;Иванов;-5.00;;NEG;",
        "01/12/2026 09:00:00;7001;Иванов;0.00;;ZERO;",
        "01/12/2026 09:00:00;7001;Иванов;10.005;;PRECISE;",
        "01/12/2026 09:00:00;7001;Иванов;сто;;WORDS;",
        "01/12/2026 09:00:00;7001;Иванов;100.00;;SHORT",
        "01/12/2026 09:00:00;7001;Иванов;100000.01;;HUGE;",
        "01/12/2026 09:00:00;7001;Иванов;25.00;;OK-2;",
    ]
    drop(belpost, "mixed.alt", lines)
    result = run(conn, belpost)
    assert counts(result) == (10, 2, 0, 8)
    assert balance(conn, account) == Decimal("125.00")
    assert (belpost.folder_out / "mixed.alt").exists()
    err = (belpost.folder_err / "mixed.alt.err").read_text(encoding="utf-8").splitlines()
    assert err[0] == "# belpost: mixed.alt, 8 line(s) not imported"
    reasons = [(row.split("\t")[0], row.split("\t")[1].split(":")[0], row.split("\t")[2])
               for row in err[1:]]
    assert reasons == [
        ("line 2", "bad_date", lines[1]), ("line 3", "unknown_contract", lines[2]),
        ("line 4", "bad_sum", lines[3]), ("line 5", "bad_sum", lines[4]),
        ("line 6", "bad_sum", lines[5]), ("line 7", "bad_sum", lines[6]),
        ("line 8", "field_count", lines[7]), ("line 9", "amount_above_maximum", lines[8])]
    assert "'9999'" in err[2] and "greater than zero" in err[3]
    assert result.failed and result.files[0].err_file == belpost.folder_err / "mixed.alt.err"


def test_an_error_file_tells_the_latest_reading_of_its_file(conn, pattern):
    belpost = pattern["belpost"]
    make_account(conn, "7001")
    lines = ["01/12/2026 09:00:00;7001;Иванов;10.00;;E-1;",
             "01/12/2026 09:00:00;7002;Петров;20.00;;E-2;"]
    drop(belpost, "late.alt", lines)
    assert counts(run(conn, belpost)) == (2, 1, 0, 1)
    err = belpost.folder_err / "late.alt.err"
    assert "unknown_contract" in err.read_text(encoding="utf-8")
    late = make_account(conn, "7002")  # the operator adds the account, drops the file again
    shutil.move(belpost.folder_out / "late.alt", belpost.folder_in / "late.alt")
    assert counts(run(conn, belpost, min_age_seconds=0)) == (2, 1, 1, 0)
    assert balance(conn, late) == Decimal("20.00")
    assert not err.exists()


def test_the_same_file_imported_again_credits_nothing(conn, pattern):
    belpost = pattern["belpost"]
    account = make_account(conn, "7001")
    lines = ["01/12/2026 09:00:00;7001;Иванов;100.00;;R-1;",
             "01/12/2026 09:05:00;7001;Иванов;40.00;;R-2;"]
    drop(belpost, "day.alt", lines)
    assert counts(run(conn, belpost)) == (2, 2, 0, 0)
    drop(belpost, "day.alt", lines)  # the bank sends it again
    drop(belpost, "day-copy.alt", lines[1:])  # and once more under another name
    assert counts(run(conn, belpost)) == (3, 0, 3, 0)
    assert balance(conn, account) == Decimal("140.00")
    assert sorted(p.name for p in belpost.folder_out.iterdir()) == ["day-copy.alt", "day.alt"]
    assert conn.execute("SELECT file_name, runs, credited, already_seen FROM statement_files"
                        " ORDER BY file_name").fetchall() == [
        ("day-copy.alt", 1, 0, 1), ("day.alt", 2, 0, 2)]


def test_a_file_of_another_content_under_a_used_name_is_kept_beside_it(conn, pattern):
    belpost = pattern["belpost"]
    make_account(conn, "7001")
    drop(belpost, "day.alt", ["01/12/2026 09:00:00;7001;Иванов;100.00;;S-1;"])
    run(conn, belpost)
    drop(belpost, "day.alt", ["02/12/2026 09:00:00;7001;Иванов;7.00;;S-2;"])
    [second] = run(conn, belpost).files
    assert second.credited == 1 and second.moved_to.name.startswith("day.alt.")
    assert len(list(belpost.folder_out.iterdir())) == 2


def test_a_reversal_file_cancels_its_payments_once(conn, pattern):
    belpost, reversal = pattern["belpost"], pattern["belpost_reversal"]
    a, b = make_account(conn, "7001"), make_account(conn, "7002")
    drop(belpost, "pay.alt", ["01/12/2026 09:00:00;7001;Иванов;100.00;;P-1;",
                              "01/12/2026 09:00:00;7002;Петров;60.00;;P-2;",
                              "01/12/2026 09:00:00;7002;Петров;30.00;;P-3;"])
    run(conn, belpost)
    rlines = ["02/12/2026 11:00:00;7001;Иванов;100.00;;P-1;",   # cancels P-1
              "02/12/2026 11:00:00;;;;;P-2;",                     # by PID alone
              "02/12/2026 11:00:00;7002;Петров;31.00;;P-3;",      # the sum differs
              "02/12/2026 11:00:00;7001;Иванов;30.00;;P-3;",      # another contract
              "02/12/2026 11:00:00;7001;Иванов;5.00;;P-404;",     # nothing to cancel
              "02/12/2026 11:00:00;7001;Иванов;5.00;;;"]          # no PID
    drop(reversal, "r20261202.alt", rlines)
    # The payments section's exclude_mask leaves the reversal file to its own section.
    assert run(conn, belpost).files == []
    result = run(conn, reversal)
    assert counts(result) == (6, 2, 0, 4)
    assert (balance(conn, a), balance(conn, b)) == (Decimal("0.00"), Decimal("30.00"))
    reversals = [r for r in entries(conn, "BELPOST_PAYMENT_IMPORT") if r[1] == "reversal"]
    assert [(r[0], r[2], r[3]) for r in reversals] == [
        ("7001", Decimal("-100.00"), datetime(2026, 12, 2, 11, 0, tzinfo=ZONE)),
        ("7002", Decimal("-60.00"), datetime(2026, 12, 2, 11, 0, tzinfo=ZONE))]
    err = (reversal.folder_err / "r20261202.alt.err").read_text(encoding="utf-8")
    assert [row.split("\t")[1].split(":")[0] for row in err.splitlines()[1:]] == [
        "reversal_mismatch", "reversal_mismatch", "no_payment", "no_pid"]
    drop(reversal, "r20261202.alt", rlines)
    assert counts(run(conn, reversal)) == (6, 0, 2, 4)
    assert (balance(conn, a), balance(conn, b)) == (Decimal("0.00"), Decimal("30.00"))


def test_lines_without_a_pid_credit_once_each_even_when_resent(conn, pattern):
    cash = pattern["cash"]
    account = make_account(conn, "9001")
    same = "2026-12-01 10:00;9001;50.00;касса"
    drop(cash, "a.csv", [same, same])
    assert counts(run(conn, cash)) == (2, 2, 0, 0)
    drop(cash, "b.csv", ["2026-12-01 11:00;9001;7.00;", same, same, same])
    assert counts(run(conn, cash)) == (4, 2, 2, 0)
    assert balance(conn, account) == Decimal("157.00")
    sources = conn.execute("SELECT DISTINCT details->>'source' FROM ledger_entries").fetchall()
    assert sources == [("import:cash",)]


def test_a_file_still_being_written_waits_and_an_inactive_section_is_left(conn, pattern):
    cash, idle = pattern["cash"], pattern["idle"]
    make_account(conn, "9001")
    fresh = drop(cash, "now.csv", ["2026-12-01 10:00;9001;50.00;"], age=0)
    drop(idle, "x", ["9001;5.00;I-1"])
    assert run(conn, cash, idle).files == []
    assert fresh.exists() and (idle.folder_in / "x").exists()
    assert counts(run(conn, cash, min_age_seconds=0)) == (1, 1, 0, 0)


def test_a_run_killed_halfway_is_finished_by_the_next(db, conn, pattern, tmp_path):
    """A real process, killed with SIGKILL while it commits line after line; the next run
    credits exactly what the first did not."""
    cash = pattern["cash"]
    accounts = [make_account(conn, f"95{n:02d}") for n in range(10)]
    total_lines = 3000
    drop(cash, "big.csv", [f"2026-12-01 10:00;95{n % 10:02d};{1 + n % 7}.25;n{n}"
                           for n in range(total_lines)])
    expected = sum(Decimal(f"{1 + n % 7}.25") for n in range(total_lines))
    env = {**os.environ, **ebs_env(db),
           "EBS_PAYMENTS_IMPORT_PATTERN": str(tmp_path / "pattern.ini"),
           "EBS_SETTINGS": str(tmp_path / "none.py")}
    (tmp_path / "none.py").write_text("")
    ebs = str(Path(sys.executable).with_name("ebs"))
    proc = subprocess.Popen([ebs, "payments", "import", "cash", "--min-age", "0",
                             "--batch", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _posted(conn) < 200:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the import did not start"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done_before = _posted(conn)
    assert 200 <= done_before < total_lines, "killed after the end: nothing left to resume"
    assert (cash.folder_in / "big.csv").exists()
    state, lines_done = conn.execute("SELECT state, lines_done FROM statement_files").fetchone()
    assert (state, lines_done) == ("reading", done_before)

    result = run(conn, cash, min_age_seconds=0)
    assert counts(result) == (total_lines, total_lines - done_before, done_before, 0)
    assert _posted(conn) == total_lines
    assert sum(balance(conn, a) for a in accounts) == expected
    assert conn.execute("SELECT state, runs, lines_done FROM statement_files").fetchone() == (
        "done", 2, total_lines)
    assert (cash.folder_out / "big.csv").exists() and not list(cash.folder_in.iterdir())


def _posted(conn) -> int:
    return conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'payment'"
                        ).fetchone()[0]


def test_the_command_reports_each_file_and_fails_on_a_bad_line(db, conn, pattern, tmp_path):
    belpost = pattern["belpost"]
    make_account(conn, "7001")
    (tmp_path / "none.py").write_text("")
    env = {**ebs_env(db, tmp_path / "none.py"),
           "EBS_PAYMENTS_IMPORT_PATTERN": str(tmp_path / "pattern.ini")}
    drop(belpost, "a.alt", ["01/12/2026 09:00:00;7001;Иванов;10.00;;C-1;"])
    ok = CliRunner().invoke(cli, ["payments", "import", "belpost"], env=env)
    assert ok.exit_code == 0, ok.output
    assert f"[belpost] a.alt: 1 lines read, 1 credited, 0 already seen, 0 errors -> " \
           f"{belpost.folder_out / 'a.alt'}" in ok.output
    assert "1 file(s): 1 lines read, 1 credited, 0 already seen, 0 errors" in ok.output

    shutil.copy(belpost.folder_out / "a.alt", belpost.folder_in / "a.alt")
    drop(belpost, "b.alt", ["01/12/2026 09:00:00;7001;Иванов;10.00;;C-2;",
                            "01/12/2026 09:00:00;4040;Никто;10.00;;C-3;"])
    bad = CliRunner().invoke(cli, ["payments", "import", "belpost", "--min-age", "0"],
                             env=env)
    assert bad.exit_code == 1, bad.output
    assert "[belpost] a.alt: 1 lines read, 0 credited, 1 already seen, 0 errors" in bad.output
    assert f"[belpost] b.alt: 2 lines read, 1 credited, 0 already seen, 1 errors -> " \
           f"{belpost.folder_out / 'b.alt'}; bad lines in " \
           f"{belpost.folder_err / 'b.alt.err'}" in bad.output
    assert "2 file(s): 3 lines read, 1 credited, 1 already seen, 1 errors" in bad.output

    unknown = CliRunner().invoke(cli, ["payments", "import", "nosuch"], env=env)
    assert unknown.exit_code == 1 and "no section 'nosuch'" in unknown.output
    idle = CliRunner().invoke(cli, ["payments", "import", "idle"], env=env)
    assert idle.exit_code == 1 and "not active" in idle.output
    missing = CliRunner().invoke(
        cli, ["payments", "import"],
        env={**env, "EBS_PAYMENTS_IMPORT_PATTERN": str(tmp_path / "nope.ini")})
    assert missing.exit_code == 1 and "nope.ini does not exist" in missing.output


def test_the_beat_task_imports_as_the_worker_and_idles_without_a_pattern(
        env, conn, pattern, tmp_path, monkeypatch):
    from worker.payment_import_tasks import import_payments

    monkeypatch.setenv("EBS_PAYMENTS_IMPORT_PATTERN", str(tmp_path / "none.ini"))
    assert import_payments.run() == {"files": 0, "pattern": "none"}
    monkeypatch.setenv("EBS_PAYMENTS_IMPORT_PATTERN", str(tmp_path / "pattern.ini"))
    account = make_account(conn, "8001")
    drop(pattern["Belarusbank"], "t.asb", ["8001;Петров;03/12/2026;17:45;5.00;;;;T-1",
                                           "8002;Сидоров;03/12/2026;17:45;5.00;;;;T-2"])
    assert import_payments.run() == {"files": 1, "lines": 2, "credited": 1,
                                     "already_seen": 0, "errors": 1, "problems": []}
    assert balance(conn, account) == Decimal("5.00")
    assert conn.execute("SELECT state, credited, errors FROM statement_files").fetchone() == (
        "done", 1, 1)


def test_a_section_another_run_holds_or_without_its_folder_is_a_problem_not_a_crash(
        db, conn, pattern):
    cash, belpost = pattern["cash"], pattern["belpost"]
    make_account(conn, "9001")
    drop(cash, "a.csv", ["2026-12-01 10:00;9001;50.00;"])
    shutil.rmtree(belpost.folder_in)
    with psycopg.connect(db, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('ebs.import_payments:cash')::bigint)")
        held = run(conn, cash, belpost)
    assert held.files == [] and held.failed
    assert held.problems[0] == ("cash", "another import is reading this section")
    assert held.problems[1][0] == "belpost" and "does not exist" in held.problems[1][1]
    assert counts(run(conn, cash)) == (1, 1, 0, 0)  # the lock went with its holder
