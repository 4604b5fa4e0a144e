"""The ORM models (ours and Flask-AppBuilder's security tables) mirror the migrated schema."""

import importlib
import pkgutil

import pytest
from flask_appbuilder import Model
from flask_appbuilder.security.sqla import models as fab_models  # noqa: F401 - registers ab_*
from sqlalchemy import create_engine, inspect
from sqlalchemy.dialects import postgresql

import webapp.models

# Every module of the webapp/models/ package registers its tables on Model.metadata;
# features add their own modules (walked here, so a module the package forgets counts).
for module in pkgutil.walk_packages(webapp.models.__path__, "webapp.models."):
    importlib.import_module(module.name)

# Tables the ORM does not serve: written by FreeRADIUS/nfacctd or by migrations only.
NOT_MAPPED = {"schema_migrations", "schema_functions", "schema_upgrades", "flow_raw",
              "flow_bins", "flow_rejects"}
# The traffic rater's own bookkeeping (flow/rater.py): watermark, bin marks and rated
# group values; no page shows them (webapp/models/traffic_rating.py models the rest).
NOT_MAPPED |= {"traffic_rating_state", "traffic_bin_marks", "traffic_group_bins"}
# Rating from RADIUS accounting (flow/session_rater.py): the session marks are its
# bookkeeping (webapp/models/session_rating.py models the rest).
NOT_MAPPED |= {"session_rating_marks"}
# RADIUS against NetFlow (flow/reconcile.py): the run's watermark and tallies are its
# bookkeeping; traffic_reconciliation, its result, is modelled for the admin page that
# shows it (webapp/models/traffic_reconciliation.py).
NOT_MAPPED |= {"traffic_reconcile_state", "traffic_reconcile_sessions",
               "traffic_reconcile_exporter_hours", "traffic_reconcile_exporters"}
# The bank-statement import's journal (billing/statement_import.py): its bookkeeping of
# which files were read how far; the files and error files are the operator's record.
NOT_MAPPED |= {"statement_files"}
# The cabinet's login state (webapp/cabinet/login.py reads and writes it by SQL): failures,
# the lock and the logout count are no page's business.
NOT_MAPPED |= {"cabinet_logins"}
# The notices' bookkeeping (billing/notifications/events.py, phone_book.py): how far the
# ledger and the state history were read, the forecast notices given, numbers read once.
NOT_MAPPED |= {"notification_marks", "forecast_notices", "phone_numbers"}
# Columns of Flask-AppBuilder's own tables that its models do not know: the login guard
# and the session stamp read and write them by SQL (webapp/login_guard.py,
# webapp/security.py), so FAB's User model stays FAB's.
NOT_MAPPED_COLUMNS = {"ab_user": {"locked_until", "session_epoch"}}
# What stands for an express card's PIN is read and written by billing.express_cards
# alone: no model maps it, so no page can show it.
NOT_MAPPED_COLUMNS |= {"express_cards": {"pin_hash"}, "card_series": {"pins_sealed"}}

DIALECT = postgresql.dialect()


def _type(t) -> str:
    return t.compile(dialect=DIALECT).replace("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP")


@pytest.fixture
def inspector(db):
    engine = create_engine(f"postgresql+psycopg:///?{db.replace(' ', '&')}")
    yield inspect(engine)
    engine.dispose()


def test_every_table_has_a_model_and_every_model_a_table(inspector, conn):
    tables = conn.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE nspname = 'public' AND relkind IN ('r', 'p') AND NOT relispartition"
    )
    in_db = {r[0] for r in tables} - NOT_MAPPED
    modelled = set(Model.metadata.tables)
    assert in_db - modelled == set(), "tables without a model"
    assert modelled - in_db == set(), "models without a table"


def test_columns_types_and_nullability_match(inspector):
    problems = []
    for name, table in Model.metadata.tables.items():
        db_cols = {c["name"]: c for c in inspector.get_columns(name)
                   if c["name"] not in NOT_MAPPED_COLUMNS.get(name, ())}
        model_cols = {c.name: c for c in table.columns}
        if set(db_cols) != set(model_cols):
            problems.append(f"{name}: db {sorted(set(db_cols) - set(model_cols))} "
                            f"model {sorted(set(model_cols) - set(db_cols))}")
            continue
        for col_name, col in model_cols.items():
            db_col = db_cols[col_name]
            if _type(col.type) != _type(db_col["type"]):
                problems.append(f"{name}.{col_name}: model {_type(col.type)} "
                                f"db {_type(db_col['type'])}")
            if not col.primary_key and col.nullable != db_col["nullable"]:
                problems.append(f"{name}.{col_name}: model nullable={col.nullable} "
                                f"db nullable={db_col['nullable']}")
    assert problems == []


def test_foreign_keys_match(inspector):
    problems = []
    for name, table in Model.metadata.tables.items():
        db_fks = {(tuple(fk["constrained_columns"]), fk["referred_table"])
                  for fk in inspector.get_foreign_keys(name)}
        model_fks = {(tuple(c.parent.name for c in [fk]), fk.column.table.name)
                     for fk in table.foreign_keys}
        missing = model_fks - db_fks
        if missing:
            problems.append(f"{name}: model has foreign keys the database lacks: {missing}")
    assert problems == []
