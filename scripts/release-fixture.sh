#!/usr/bin/env bash
# Build the release fixture of this checkout's version (pyproject.toml) into
# tests/fixtures/release-<version>.sql.gz: the schema from scratch and the demo data on a
# private PostgreSQL, dumped as gzipped SQL. Run it from the release's commit; the upgrade
# tests then start from this release too (tests/integration/test_release_upgrade.py).
# Arguments go to `ebs db release-fixture` (e.g. --upto YYYYMMDDHHMM).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
version=$(.venv/bin/python -c 'from billing.release import code_version; print(code_version())')
# The servers run as the service user, who may write only under ./var.
built="var/release-fixture/release-$version.sql.gz"
bash scripts/as-service-user.sh .venv/bin/ebs db release-fixture --out "$built" "$@"
mkdir -p tests/fixtures
cp "$built" "tests/fixtures/release-$version.sql.gz"
echo "tests/fixtures/release-$version.sql.gz"
