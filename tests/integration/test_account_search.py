"""The subscriber search (billing.account_search) finds people as operators type them, and
every form of it reads an index, never the whole accounts table.

Every form is planned on 20,000 analysed accounts with sequential scans priced out,
which proves an index path exists for it. The forms on b-tree indexes alone (a phone, a
short text) are also left to the planner's own choice there; one that adds a trigram
substring costs more to start than reading 20,000 rows, so the planner takes the index
only on a larger table (500,000 seeded accounts: a bitmap OR of the five indexes).
"""

from __future__ import annotations

import pytest

from billing import account_search
from billing.account_search import find_accounts, parse, phone_digits, search_statement

CROWD = 20_000

SUBSCRIBERS = [
    ("A-70001", "sadovaya", "Иванов Пётр Сергеевич", "+7 (916) 123-45-01", "ул. Садовая", "5"),
    ("A-70002", "lenina", "Петрова Анна", "84951112233", "пр. Ленина", "12"),
    ("B-80001", "boris", "Борисов Борис", "", "ул. Тверская", "1"),
]


def contracts(conn, text):
    return {row["contract"] for row in find_accounts(conn, text)}


@pytest.fixture
def people(conn):
    conn.cursor().executemany(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house)"
        " VALUES (%s, %s, %s, %s, %s, %s)", SUBSCRIBERS)
    return conn


def test_the_three_spellings_of_a_phone_find_the_same_subscriber(people):
    for typed in ("89161234501", "9161234501", "+7 916 123-45-01", "+79161234501",
                  "8 (916) 123 45 01"):
        assert contracts(people, typed) == {"A-70001"}, typed
    assert contracts(people, "+7 495 111-22-33") == {"A-70002"}
    assert contracts(people, "9161234599") == set()


def test_the_database_and_python_agree_on_a_phone_key(people):
    for typed in ("89161234501", "+7 916 123-45-01", "8-800", "12345", "+44 20 7946 0000",
                  "", "71234567890", "81234567890", "91234567890"):
        in_db = people.execute("SELECT ebs_phone_digits(%s)", (typed,)).fetchone()[0]
        assert in_db == phone_digits(typed), typed
    assert phone_digits("+7 916 123-45-01") == "9161234501"


def test_a_street_and_a_name_are_found_by_any_part(people):
    assert contracts(people, "Садовая") == {"A-70001"}
    assert contracts(people, "садовая") == {"A-70001"}
    assert contracts(people, "Садовая 5") == {"A-70001"}
    assert contracts(people, "Пётр") == {"A-70001"}
    assert contracts(people, "петров") == {"A-70002"}
    assert contracts(people, "ова") == {"A-70001", "A-70002"}  # Садовая, Петрова
    assert contracts(people, "100%") == set()  # a wildcard is a plain character


def test_a_contract_or_login_is_found_exactly_or_by_its_beginning(people):
    assert contracts(people, "A-70001") == {"A-70001"}
    assert contracts(people, "A-7") == {"A-70001", "A-70002"}
    assert contracts(people, "bor") == {"B-80001"}
    assert contracts(people, "le") == {"A-70002"}
    assert contracts(people, "A_") == set()


def test_a_short_text_searches_contract_and_login_only(people):
    short = parse("ов")
    assert not short.by_substring and not short.by_phone
    assert contracts(people, "ов") == set()  # in names, but too short for a substring
    assert find_accounts(people, "") == []
    assert parse("   ") is None


def test_the_parse_tells_a_phone_from_a_contract():
    assert parse("+7 916 123-45-01").by_phone
    assert parse("9161234501").by_phone
    assert not parse("1234").by_phone  # too few digits: a contract
    assert not parse("A-70001").by_phone
    assert parse("A-70001").by_substring


def plan(conn, text) -> str:
    statement, values = search_statement(parse(text))
    rows = conn.execute("EXPLAIN " + statement, {**values, "limit": 50}).fetchall()
    return "\n".join(row[0] for row in rows)


FORMS = ["+7 916 123-45-01", "89161234501", "Садовая", "Иванов", "A-70001", "A-7", "bo",
         "ов", "12"]


@pytest.fixture
def crowd(people):
    people.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street, house)"
        " SELECT 'C' || g, 'login' || g, 'Абонент ' || md5(g::text),"
        "        '+7 903 ' || lpad(g::text, 7, '0'), 'ул. ' || md5((g %% 997)::text), g %% 200"
        "   FROM generate_series(1, %s) g", (CROWD,))
    people.execute("ANALYZE accounts")
    return people


@pytest.mark.parametrize("text", ["+7 916 123-45-01", "89161234501", "bo", "ов", "12"])
def test_the_planner_itself_takes_the_index_on_a_crowd(crowd, text):
    shown = plan(crowd, text)
    assert "Seq Scan on accounts" not in shown, shown
    assert "Index" in shown, shown


@pytest.mark.parametrize("text", FORMS)
def test_each_form_has_an_index_path(crowd, text):
    crowd.execute("SET enable_seqscan = off")
    shown = plan(crowd, text)
    assert "Seq Scan" not in shown, shown
    assert "Limit" in shown.splitlines()[0], shown


def test_the_statement_is_one_limited_select():
    statement, values = search_statement(parse("Садовая"))
    assert statement.count("SELECT") == 1 and statement.rstrip().endswith("%(limit)s")
    assert values["contains"] == "%Садовая%"
    assert account_search.MIN_SUBSTRING == 3


def test_found_in_any_case_of_a_cyrillic_text(people):
    assert contracts(people, "САДОВАЯ") == {"A-70001"}
    assert contracts(people, "иванов пётр") == {"A-70001"}
