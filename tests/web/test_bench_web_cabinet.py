"""``ebs bench web`` measures the cabinet as a subscriber sees it: logged in through the
cabinet's own form as the target account, every cabinet page the app has, and the SQL
``billing`` runs on the session's connection counted with the ORM's."""

from __future__ import annotations

import pytest

from bench import web as bench_web
from webapp.extensions import db as sqla


def _one_subscriber(conn) -> dict:
    conn.execute(
        "INSERT INTO accounts (contract, login, full_name, phone, street)"
        " VALUES ('700001', 'u700001', 'Петров Пётр', '+79000000007', 'Садовая')")
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, effective_at)"
        " SELECT id, 'payment', 500, 'bench-test:1', now() FROM accounts")
    return bench_web._target(conn, seeded=False)


def test_cabinet_pages_measured_as_the_target_subscriber(app, conn, staff, monkeypatch,
                                                         capsys):
    target = _one_subscriber(conn)
    # A page the app does not have (yet) is named on stderr and left out, not an error.
    monkeypatch.setitem(bench_web.CABINET_PAGES, "cabinet:nowhere", "cabinet.nowhere")
    pages = bench_web.cabinet_pages(app)
    assert "cabinet:nowhere" not in pages
    assert "cabinet:nowhere: the app has no cabinet.nowhere yet" in capsys.readouterr().err
    expected = {name for name, endpoint in bench_web.CABINET_PAGES.items()
                if endpoint in app.view_functions}
    assert set(pages) == expected and "cabinet:overview" in pages
    assert pages["cabinet:overview"] == "/cabinet/"

    subscriber = app.test_client()
    bench_web._log_in(subscriber, "/cabinet/login", target["login"],
                      bench_web.CABINET_PASSWORD, expect=303)
    with app.app_context():
        engine = sqla.engine
    results = bench_web.measure(engine, {name: (subscriber, url) for name, url in pages.items()},
                                5, "test")
    assert set(results) == expected
    for figures in results.values():
        assert figures["p95"] > 0 and 0 < figures["sql_p95"] <= figures["p95"]
    # The overview's forecast, limitation and allowances run on the raw psycopg
    # connection; the ORM alone sends three statements (and the pool's pre-ping one).
    assert results["cabinet:overview"]["statements"] > 5


def test_a_lost_cabinet_session_fails_the_run(app, conn, staff):
    _one_subscriber(conn)
    with app.app_context():
        engine = sqla.engine
    stranger = app.test_client()  # never logged in: every page sends it to the login form
    with pytest.raises(RuntimeError, match="/cabinet/login"):
        bench_web.measure(engine, {"cabinet:overview": (stranger, "/cabinet/")}, 5, "test")
