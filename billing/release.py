"""The code's release version: ``pyproject.toml`` in a checkout, the installed package's
metadata elsewhere. One place, so ``ebs --version``, the schema's upgrade record and the
backup manifest never disagree."""

from __future__ import annotations

import tomllib
from importlib import metadata

from billing.settings import PROJECT_ROOT


def code_version() -> str:
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.exists():
        with pyproject.open("rb") as f:
            return tomllib.load(f)["project"]["version"]
    return metadata.version("ebs")
