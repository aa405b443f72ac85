# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KEYRING := scripts/with-keyring

.PHONY: demo test lint bench clean sysdeps wheelhouse

# First, in well under a second: the system packages (softhsm2, gnome-keyring, dbus, openssl…).
# As root on Debian/Ubuntu they are installed; otherwise make stops naming the command to run.
sysdeps:
	@scripts/system-deps

$(BIN)/ledgerml: pyproject.toml | sysdeps
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/ledgerml

demo: sysdeps $(BIN)/ledgerml
	$(KEYRING) scripts/demo.sh

# On every core (pytest-xdist, one worker per CPU this process may use; each test file runs
# whole on one worker, see pyproject.toml). `make test XDIST=` runs it in one process.
XDIST ?= -n auto
test: sysdeps $(BIN)/ledgerml
	$(KEYRING) $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

lint: $(BIN)/ledgerml
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Wheels, hash pins and an SBOM for installing on a machine with no network (see README).
wheelhouse: $(BIN)/ledgerml
	$(BIN)/python scripts/wheelhouse.py --out wheelhouse $(if $(EXTRAS),--extras $(EXTRAS))

bench: $(BIN)/ledgerml
	$(KEYRING) $(BIN)/python bench/ledger_bench.py

clean:
	rm -rf $(VENV) .keyring demo-workspace wheelhouse
