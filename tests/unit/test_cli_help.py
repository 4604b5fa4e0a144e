"""Every `ebs` command explains itself with --help (walks the whole command tree)."""

import click
from click.testing import CliRunner

from cli.main import cli


def _walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


def test_every_command_has_help():
    runner = CliRunner()
    seen = []
    for path, command in _walk(cli):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: " in result.output
        assert command.help, f"ebs {' '.join(path)} has no help text"
        seen.append(" ".join(path))
    assert {"up", "down", "status", "db upgrade", "ledger verify"} <= set(seen)
