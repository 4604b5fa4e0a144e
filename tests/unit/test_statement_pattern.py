"""``pattern.ini`` as ExpertBilling's guide writes it, and statement lines read by it: both
key spellings, the guide's own example file, the column tokens, TIME joined to DATETIME,
sums as banks write them, and every reason a line is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.statement_lines import BadLine, StatementLine, line_identity, read_lines
from billing.statement_pattern import PatternError, load

MINSK = ZoneInfo("Europe/Minsk")
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)

# The guide's example ("Импорт платежей", seeds/expertbilling-1.5-guide.ru.txt), one key a
# line as an operator's file has it.
GUIDE_PATTERN = """\
[belpost]
active=1
folderin=belpost/IN/
folderout=belpost/OUT/
foldererr=belpost/ERR/
mask=*.alt
rmask=r*.alt
separator=;
payment_type=BELPOST_PAYMENT_IMPORT
fieldnames=DATETIME;ACC;FIO;SUM;EMPTY;PID;EMPTY
fielddefault=;;;;;;
datetime_fmt=%d/%m/%Y %H:%M:%S
reversal_payments=False

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

[Webmoney]
active=1
folder_in=WebMoney/IN/
folder_out=WebMoney/OUT/
folder_err=WebMoney/ERR/
file_mask=*.*
exclude_mask=r*.*
separator=;
payment_type=WEBMONEY_PAYMENT_IMPORT
fieldnames=DATETIME;ACC;SUM;EMPTY;EMPTY;PID;EMPTY;EMPTY;EMPTY;EMPTY
datetime_fmt=%d/%m/%Y %H:%M:%S
time_fmt=
encoding=utf-8
reversal_payments=False

[EasyPay]
active=1
folder_in=EasyPay/IN/
folder_out=EasyPay/OUT/
folder_err=EasyPay/ERR/
file_mask=*.txt
exclude_mask=r*.txt
separator=;
payment_type=EASYPAY_PAYMENT_IMPORT
fieldnames=DATETIME;ACC;PID;FIO;SUM
datetime_fmt=%d/%m/%Y %H:%M:%S
encoding=utf-8
time_fmt=
reversal_payments=False

[PriorBank]
active=1
folder_in=Priorbank/IN/
folder_out=PriorBank/OUT/
folder_err=Priorbank/ERR/
file_mask=*.prb
exclude_mask=r*.prb
separator=;
payment_type=PRIORBANK_PAYMENT_IMPORT
fieldnames=SUM;EMPTY;ACC;EMPTY;PID;EMPTY;EMPTY;EMPTY;DATETIME;EMPTY
datetime_fmt=%d%m%y
encoding=utf-8
time_fmt=
reversal_payments=False
"""


def _sections(tmp_path, text: str):
    path = tmp_path / "pattern.ini"
    path.write_text(text, encoding="utf-8")
    return {s.name: s for s in load(path)}


def test_the_guides_example_loads_with_both_spellings(tmp_path):
    sections = _sections(tmp_path, GUIDE_PATTERN)
    assert list(sections) == ["belpost", "Belarusbank", "Webmoney", "EasyPay", "PriorBank"]
    belpost, bank = sections["belpost"], sections["Belarusbank"]
    assert (belpost.folder_in, belpost.folder_out, belpost.folder_err) == (
        tmp_path / "belpost/IN", tmp_path / "belpost/OUT", tmp_path / "belpost/ERR")
    assert (belpost.file_mask, belpost.exclude_mask) == ("*.alt", "r*.alt")
    assert (bank.file_mask, bank.exclude_mask) == ("*.asb", "lan.*")
    assert belpost.fieldnames == ("DATETIME", "ACC", "FIO", "SUM", "EMPTY", "PID", "EMPTY")
    assert belpost.fielddefault == ("",) * 7
    assert (belpost.encoding, bank.encoding) == ("utf-8", "cp855")
    assert (bank.datetime_fmt, bank.time_fmt) == ("%d/%m/%Y", "%H:%M")
    assert belpost.source == "BELPOST_PAYMENT_IMPORT"
    assert all(s.active and not s.reversal_payments for s in sections.values())


def test_relative_folders_are_under_the_base_directory(tmp_path):
    path = tmp_path / "pattern.ini"
    path.write_text(GUIDE_PATTERN, encoding="utf-8")
    base = tmp_path / "statements"
    belpost = load(path, base)[0]
    assert belpost.folder_in == base / "belpost/IN"


@pytest.mark.parametrize(("change", "message"), [
    ("folder_in=other/IN/\n", "folder_in and folderin name the same setting"),
    ("fieldnames=DATETIME;ACC;FIO;SUMMA\n", "'SUMMA'"),
    ("fieldnames=DATETIME;ACC;FIO\n", "must name SUM"),
    ("fieldnames=ACC;SUM;ACC\n", "ACC more than once"),
    ("encoding=koi9\n", "unknown encoding 'koi9'"),
    ("active=maybe\n", "active must be 1/0 or True/False"),
    ("folder_typo=x\n", "unknown key(s) folder_typo"),
    ("fielddefault=;;\n", "fielddefault has 3 values for 7 fields"),
    ("foldererr=belpost/IN/\n", "three different folders"),
])
def test_a_section_that_cannot_be_read_is_refused_by_name(tmp_path, change, message):
    head, rest = GUIDE_PATTERN.split("[Belarusbank]")
    lines = [line for line in head.splitlines(keepends=True)
             if line.split("=")[0] != change.split("=")[0]]
    with pytest.raises(PatternError, match="section \\[belpost\\]") as refused:
        _sections(tmp_path, "".join(lines) + change + "[Belarusbank]" + rest)
    assert message in str(refused.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(PatternError) as refused:
        load(tmp_path / "pattern.ini")
    assert refused.value.code == "no_file" and "pattern.ini" in str(refused.value)


def _read(section, text: str, encoding: str | None = None):
    return list(read_lines(section, text.encode(encoding or section.encoding), MINSK, NOW))


def test_a_time_column_joins_the_date_in_the_isps_zone(tmp_path):
    bank = _sections(tmp_path, GUIDE_PATTERN)["Belarusbank"]
    [line] = _read(bank, "5001;Петров П.П.;03/12/2026;17:45;250,50;;;;PID-9\r\n")
    assert isinstance(line, StatementLine)
    assert line.moment == datetime(2026, 12, 3, 17, 45, tzinfo=MINSK)
    assert (line.contract, line.amount, line.pid, line.unique_id, line.payer) == (
        "5001", Decimal("250.50"), "PID-9", "PID-9", "Петров П.П.")


@pytest.mark.parametrize(("written", "amount"), [
    ("1234.50", "1234.50"), ("1 234,50", "1234.50"), ("1\u00a0234,5", "1234.50"),
    ("100", "100.00"), ("+7", "7.00")])
def test_sums_as_banks_write_them(tmp_path, written, amount):
    easypay = _sections(tmp_path, GUIDE_PATTERN)["EasyPay"]
    [line] = _read(easypay, f"01/12/2026 10:00:00;5001;P1;Иванов;{written}\n")
    assert line.amount == Decimal(amount)


@pytest.mark.parametrize(("text", "code", "words"), [
    ("31/02/2026 10:00:00;5001;P1;Иванов;10.00", "bad_date", "does not match"),
    ("01/12/2027 10:00:00;5001;P1;Иванов;10.00", "bad_date", "in the future"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;10.005", "bad_sum", "more than 2 decimals"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;десять", "bad_sum", "not an amount"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;1,000.00", "bad_sum", "comma and a point"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;", "bad_sum", "empty"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;-5.00", "bad_sum", "greater than zero"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;0,00", "bad_sum", "greater than zero"),
    ("01/12/2026 10:00:00;5001;P1;10.00", "field_count", "4 fields, the pattern has 5"),
    ("01/12/2026 10:00:00;5001;P1;Иванов;10.00;x", "field_count", "6 fields"),
    ("01/12/2026 10:00:00;;P1;Иванов;10.00", "no_contract", "ACC"),
])
def test_a_bad_line_says_why(tmp_path, text, code, words):
    easypay = _sections(tmp_path, GUIDE_PATTERN)["EasyPay"]
    [line] = _read(easypay, text + "\n")
    assert isinstance(line, BadLine)
    assert (line.number, line.code, line.text) == (1, code, text)
    assert words in line.reason


def test_undecodable_bytes_are_a_bad_line_not_a_bad_file(tmp_path):
    easypay = _sections(tmp_path, GUIDE_PATTERN)["EasyPay"]
    data = ("01/12/2026 10:00:00;5001;P1;Иванов;10.00\n".encode("cp1251")
            + "01/12/2026 10:00:00;5002;P2;Петров;20.00\n".encode())
    first, second = read_lines(easypay, data, MINSK, NOW)
    assert isinstance(first, BadLine) and first.code == "bad_encoding"
    assert isinstance(second, StatementLine) and second.payer == "Петров"


def test_a_trailing_separator_header_blank_lines_and_a_bom_are_tolerated(tmp_path):
    text = GUIDE_PATTERN.replace("fieldnames=DATETIME;ACC;PID;FIO;SUM\n",
                                 "fieldnames=DATETIME;ACC;PID;FIO;SUM\nskip_firstline=1\n")
    easypay = _sections(tmp_path, text)["EasyPay"]
    data = ("\ufeffДата;Договор;Номер;ФИО;Сумма\n\n"
            "01/12/2026 10:00:00;5001;P1;Иванов;10.00;\n\n").encode()
    [line] = read_lines(easypay, data, MINSK, NOW)
    assert (line.number, line.pid, line.amount) == (3, "P1", Decimal("10.00"))


def test_a_line_without_pid_is_known_by_its_bytes_and_repeat_count(tmp_path):
    text = GUIDE_PATTERN.replace("fieldnames=DATETIME;ACC;PID;FIO;SUM",
                                 "fieldnames=DATETIME;ACC;EMPTY;FIO;SUM")
    easypay = _sections(tmp_path, text)["EasyPay"]
    same = "01/12/2026 10:00:00;5001;;Иванов;10.00"
    lines = _read(easypay, f"{same}\n{same}\r\n")
    ids = [line.unique_id for line in lines]
    assert ids == [line_identity(same.encode(), 1), line_identity(same.encode(), 2)]
    assert ids[0] != ids[1]
    moved = _read(easypay, f"01/12/2026 09:00:00;5002;;Петров;5.00\n{same}\n")
    assert moved[1].unique_id == ids[0]  # another line before it does not change it
