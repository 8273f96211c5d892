# The two commands: `make run` (set up, migrate, seed, serve) and `make test` (set up, run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed lint bench load-faults mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo

run: seed
	@echo "Serving the Advice Service on http://127.0.0.1:5000 (Ctrl-C to stop)"
	$(BIN)/gunicorn --bind 127.0.0.1:5000 --workers 2 --threads 4 --access-logfile - "wsgi:app"

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks: page timings and SQL counts at 1,000 and 100,000 cases, throughput beside the floor page,
# audit verification. BENCH_ARGS e.g. "--database postgresql" or "--scales 1000,10000". See README.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Load with faults: gunicorn on PostgreSQL and Redis, a worker killed and PostgreSQL restarted mid-run.
load-faults: install
	$(BIN)/python -m bench.load_faults $(LOAD_ARGS)

# Mutation testing of the confidentiality core (not part of `make test`): mutmut makes small changes to the
# modules listed under [tool.mutmut] in pyproject.toml, runs only the tests that reach each changed function,
# and the scores per module are printed at the end. Results are kept in mutants/, so a second run only
# re-checks what changed. MUTANTS narrows the run, e.g. MUTANTS='shared.consent.*'.
MUTATION_CHILDREN ?= 2
mutation: install
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python -m tests.mutation.scores

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis test-artifacts mutants
