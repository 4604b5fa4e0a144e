"""SQLAlchemy models for the admin CRUD, one module per domain, mirroring the schema in
``sql/`` (its one source of truth). ``tests/integration/test_models_match_schema.py``
fails when they drift.

Importing the package registers every table on ``Model.metadata``; views import the
classes from their domain module (``webapp.models.accounts``, ``…network``…).
"""

from __future__ import annotations

from webapp.models import (  # noqa: F401 - each registers its tables
    accounts,
    charging,
    coa,
    gateway_payments,
    ledger,
    network,
    periods,
    promises,
    radius,
    reports,
    security,
    session_rating,
    tariffs,
    traffic,
    traffic_limits,
    traffic_rating,
)
