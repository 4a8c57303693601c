# commandpost — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OPS ?= examples/ops
DB ?= sqlite:///var/commandpost.db
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# One pytest worker per core (pytest-xdist), each taking the next test when it is free (worksteal: the
# long ones do not queue behind one file); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
PYTEST = COMMANDPOST_TEST_PG_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

.PHONY: run test test-integration lint fmt bench reliability image clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

## The server on an embedded SQLite database with the example ops folder.
run: $(STAMP)
	@mkdir -p var
	$(BIN)/commandpost serve --ops $(OPS) --database-url $(DB) --first-run-token

## The suite, on SQLite and on PostgreSQL (COMMANDPOST_TEST_PG_URL, default the local `test` database), one
## worker per core — all but the tests that start real processes (`make test-integration`).
test: $(STAMP)
	$(PYTEST) -m "not integration" $(PYTEST_ARGS)

## The tests that start real processes: servers, engines killed with SIGKILL, outages, Alertmanager,
## Chromium, the installed command on a terminal (the `integration` marker). CI runs them after `make test`.
test-integration: $(STAMP)
	$(PYTEST) -m integration $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench reliability
	$(BIN)/ruff format --check src tests bench reliability
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	COMMANDPOST_TEST_PG_URL=$(PG_URL) $(BIN)/python -m bench

## Fault injection against real servers (docs/reliability.md), SQLite and PostgreSQL; SOAK=3600 soaks an hour.
reliability: $(STAMP)
	COMMANDPOST_TEST_PG_URL=$(PG_URL) $(BIN)/python -m reliability

## The container image localhost/commandpost:latest with podman, from Debian's packages alone (a base
## made with mmdebstrap once, then the Containerfile on it; docs/deploy.md, "Container image").
image:
	deploy/container/build-image.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
