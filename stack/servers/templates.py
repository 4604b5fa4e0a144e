"""The one template renderer for server configurations: ``{{ name }}`` markers, nothing else.

FreeRADIUS configs are full of ``${var}`` and ``%{attr}``, and nfacctd's are plain
``key: value`` lines, so neither ``string.Template`` nor ``str.format`` fits without
escaping half of each file. A double-brace marker occurs in neither language. A marker
with no value is an error, so a typo never ships a config with a hole in it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from stack.servers.base import ServerError

_MARKER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(text: str, values: Mapping[str, object], source: str = "template") -> str:
    """Fill every ``{{ name }}`` in text from values; a marker with no value is an error."""
    missing = sorted({m for m in _MARKER.findall(text) if m not in values})
    if missing:
        raise ServerError(f"{source}: no value for {', '.join(missing)}")
    return _MARKER.sub(lambda m: str(values[m.group(1)]), text)


def render_tree(
    source: Path,
    target: Path,
    values: Mapping[str, object],
    skip: Iterable[str] = (),
    file_mode: int = 0o640,
    private: Iterable[str] = (),
) -> list[Path]:
    """Render every file under source into the same relative path under target.

    Files named in ``skip`` (relative paths) are fragments the caller renders itself;
    files in ``private`` (secrets) get mode 0600. Returns the files written.
    """
    skipped, secret = set(skip), set(private)
    written = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_dir() or rel in skipped or "__pycache__" in path.parts:
            continue
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        text = render(path.read_text(encoding="utf-8"), values, source=str(path))
        write_private(out, text, 0o600 if rel in secret else file_mode)
        written.append(out)
    return written


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write text with the given mode from the first byte (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, mode)
