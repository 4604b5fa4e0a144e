# Two commands: `make demo` runs the whole stack locally with demo data, `make test` runs
# every test. Both install what is missing first (Debian packages, the virtualenv).
# `make install-check` (root) runs the production install in a Debian 12 chroot.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo deps venv lint clean help install-check

help:
	@echo "make demo   - install what is missing, start the local stack with demo data"
	@echo "make test   - install what is missing, run the whole test suite"
	@echo "make lint   - ruff"
	@echo "make install-check - the production install in a Debian 12 chroot (as root)"

deps:
	@bash scripts/install-deps.sh
	@bash scripts/netflow-buffers.sh

# Debian's /usr/bin/python3 on purpose: FreeRADIUS embeds that interpreter, and the
# virtualenv's packages must be importable inside it.
$(STAMP): pyproject.toml
	@test -x $(PY) || /usr/bin/python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: deps $(STAMP)

lint: venv
	$(VENV)/bin/ruff check --no-cache .

test: venv
	@bash scripts/as-service-user.sh $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# scripts/install.sh in a debootstrapped Debian 12 chroot, then tests/install/ against it.
install-check: venv
	@bash scripts/install-check.sh

demo: venv
	@bash scripts/as-service-user.sh $(VENV)/bin/ebs up --demo

clean:
	rm -rf $(VENV) var
