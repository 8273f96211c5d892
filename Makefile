# The two commands: `make run` (set up, migrate, seed, serve) and `make test` (set up, run every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed
PORT ?= 5000

.PHONY: run test install migrate seed lint bench bench-blobs load-faults mutation clean

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

# PORT=5050 when 5000 is taken; a port in use is said plainly before anything is served. The demo logins
# come last, just before gunicorn's own lines. Email links follow the port (unless SERVICE_URL is set).
run: export SERVICE_URL ?= http://127.0.0.1:$(PORT)
run: migrate
	@$(BIN)/python -c "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
	s.bind(('127.0.0.1', int(sys.argv[1])))" $(PORT) 2>/dev/null || { \
	echo "Port $(PORT) is already in use on 127.0.0.1 (another server?). Serve on another one: make run PORT=5050"; exit 1; }
	@$(FLASK) seed-demo
	@echo ""
	@echo "Serving the Advice Service on http://127.0.0.1:$(PORT)/ (portal) and http://127.0.0.1:$(PORT)/staff/ (back office); Ctrl-C stops it."
	@$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile - "wsgi:app"

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks: page timings and SQL counts at 1,000 and 100,000 cases, throughput beside the floor page,
# audit verification. BENCH_ARGS e.g. "--database postgresql" or "--scales 1000,10000". See docs/performance.md.
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Streaming from the database blob store (20 MB document, 2,000-entry copy) and backups vs the database's own
# dump plus encryption: bench/blobs_bench.py (BLOBS_ARGS="--database URL --cases 100000").
bench-blobs: install
	$(BIN)/python -m bench.blobs_bench $(BLOBS_ARGS)

# Load with faults: gunicorn on PostgreSQL and Redis, a worker killed and PostgreSQL restarted mid-run.
load-faults: install
	$(BIN)/python -m bench.load_faults $(LOAD_ARGS)

# Mutation testing of the confidentiality core (not part of `make test`): mutmut makes small changes to the
# modules listed under [tool.mutmut] in pyproject.toml, runs only the tests that reach each changed function,
# and the scores per module are printed at the end. Results are kept in mutants/, so a second run only
# re-checks what changed. MUTANTS narrows the run, e.g. MUTANTS='shared.consent.gate.*'.
MUTATION_CHILDREN ?= 2
mutation: install
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS)
	$(BIN)/python -m tests.mutation.scores

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis test-artifacts mutants
