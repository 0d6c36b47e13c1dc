# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CRM_HOME ?= data
CUSTOMERS ?= 5000
SEED ?= 42

.PHONY: install run test test-all lint dev bench clean

install: $(VENV)/.installed

# Exact versions come from requirements.lock (pip constraints), so a fresh machine
# gets the same dependency set as CI.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

## Generate a sample into $(CRM_HOME)/landing and run the nightly job on it.
run: install
	$(BIN)/crm prepare --home $(CRM_HOME)
	$(BIN)/crm generate --home $(CRM_HOME) --customers $(CUSTOMERS) --seed $(SEED)
	$(BIN)/crm run --home $(CRM_HOME)

## Lint, then the test suite without the end-to-end tests marked slow (CI runs exactly this).
test: install lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow"

## Everything, including the slow end-to-end tests (real nightly runs, crash kills).
test-all: install lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check pipelines models tests bench
	$(BIN)/ruff format --check pipelines models tests bench

## Dagster UI on http://127.0.0.1:3000 with the same definitions the job uses.
dev: install
	$(BIN)/crm prepare --home $(CRM_HOME)
	mkdir -p $(CRM_HOME)/state/dagster
	cp dagster.yaml $(CRM_HOME)/state/dagster/dagster.yaml
	CRM_HOME=$(abspath $(CRM_HOME)) DAGSTER_HOME=$(abspath $(CRM_HOME))/state/dagster \
		$(BIN)/dagster dev -m pipelines.definitions

## Benchmarks (minutes; see README "Performance").
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(CRM_HOME) .pytest_cache .ruff_cache
