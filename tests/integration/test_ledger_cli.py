"""`ebs ledger verify` on seeded data: passes, then names the account a test corrupts."""

from click.testing import CliRunner

from cli.main import cli
from cli.seed import run_seed
from tests.conftest import ebs_env


def test_verify_passes_after_seed_and_names_a_corrupted_account(db, conn, tmp_path):
    run_seed(conn, accounts=300, history=True, months=2, seed=3)
    env = ebs_env(db, tmp_path / "none.py")
    (tmp_path / "none.py").write_text("")
    ok = CliRunner().invoke(cli, ["ledger", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "300 account balances equal their entries" in ok.output

    victim_id, contract = conn.execute(
        "SELECT id, contract FROM accounts ORDER BY id OFFSET 123 LIMIT 1").fetchone()
    with conn.transaction():
        # Behind the ledger's back: only the owner, who may alter the table, gets past the
        # guard trigger.
        conn.execute("ALTER TABLE accounts DISABLE TRIGGER accounts_guard_balance_update")
        conn.execute("UPDATE accounts SET balance = balance + 0.01 WHERE id = %s", (victim_id,))
        conn.execute("ALTER TABLE accounts ENABLE TRIGGER accounts_guard_balance_update")

    bad = CliRunner().invoke(cli, ["ledger", "verify"], env=env)
    assert bad.exit_code == 1
    assert f"account {victim_id} (contract {contract})" in bad.output
    assert "difference 0.01" in bad.output
    assert "1 account(s) differ from their ledger" in bad.output
