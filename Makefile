# POSIX make. The stamps make re-runs skip pip unless pyproject.toml changed.
PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin
# Flags for `mockserver serve`: make serve ARGS="--port 0 --log-level info".
# Set here, not with ?=, so an unrelated ARGS in the environment does not leak in.
ARGS =

.PHONY: serve test test-slow test-py313 test-container bench fuzz durability

serve: $(VENV)/.stamp-serve
	@$(BIN)/mockserver serve $(ARGS)

# One worker per core (pytest-xdist): the suite stays within CI's time on two cores. Bytecode is
# written even where PYTHONDONTWRITEBYTECODE is set: without it every worker and every server
# the tests start compiles each module again, and pytest rewrites each test module's asserts
# again (collection alone went from 5 s to 16 s). Left to `make test-slow`, which CI runs too, so
# `make test` stays within 5 minutes on 2 cores: the `slow` tests (the wheel built into a fresh
# venv, the bench scripts run end to end, pytest run again in a subprocess: a minute of CPU that
# checks packaging and tools, not the mock) and the `alone` ones (latency bounds and the kill -9
# test: while one runs, every other worker waits, about 35 s of an idle core). loadgroup: the
# `alone` tests run in a row on one worker.
test: $(VENV)/.stamp-test
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto --dist loadgroup -m "not slow and not alone"

test-slow: $(VENV)/.stamp-test
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto --dist loadgroup -m "slow or alone"

# The whole suite again under Python 3.13 (Debian trixie's), where the official Integry SDK
# runs: scripts/py313 builds a root with debootstrap under .cache/ (as root; about 90 s and
# 600 MB the first time, reused after) and runs the suite in it with the checkout read-only.
test-py313:
	scripts/py313

# The image built from the Dockerfile and run by a real Docker engine: scripts/container starts
# Debian's dockerd itself (as root; `apt-get install docker.io docker-compose debootstrap`) on a
# base made with debootstrap under .cache/ (2 to 3 min the first time, under 30 s after).
test-container: $(VENV)/.stamp-test
	MOCKSERVER_TEST_PYTHON=$(BIN)/python scripts/container

# The fuzz tests (tests/fuzz, in `make test` with a short budget) at length: cases per vendor,
# then the counts per vendor. make fuzz MOCKSERVER_FUZZ_CASES=50000 for more.
MOCKSERVER_FUZZ_CASES ?= 10000
fuzz: $(VENV)/.stamp-test
	PYTHONDONTWRITEBYTECODE= MOCKSERVER_FUZZ_CASES=$(MOCKSERVER_FUZZ_CASES) $(BIN)/python -m pytest -n auto tests/fuzz

# --data-dir's kill -9 test (tests/test_data_dir_durability.py, a few rounds in
# `make test-slow`) at length: that many random kill points, kill after kill on one data dir.
MOCKSERVER_DURABILITY_ROUNDS ?= 50
durability: $(VENV)/.stamp-test
	PYTHONDONTWRITEBYTECODE= MOCKSERVER_DURABILITY_ROUNDS=$(MOCKSERVER_DURABILITY_ROUNDS) $(BIN)/python -m pytest tests/test_data_dir_durability.py -k kill_9

# bench/run.py is a client too, so it gets the test extra (httpx). Then start-up, memory and
# tenant scale (bench/scale.py; `bench/scale.py --long` for the 1,000,000-request run).
bench: $(VENV)/.stamp-test
	$(BIN)/python bench/run.py
	$(BIN)/python bench/scale.py

# Check $(PYTHON) first: an older one would fail later, inside pip, obscurely. A failed
# venv leaves no half-made .venv behind, which would otherwise pass for a finished one.
$(BIN)/python:
	@v=`$(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'` || v=; \
	case "$$v" in \
	3.1[1-9].*|3.[2-9][0-9].*|[4-9].*) ;; \
	*) echo "mockserver needs Python 3.11 or newer; $(PYTHON) $${v:+is $$v}$${v:-did not run}." >&2; \
	   echo "Install one, or name one: make serve PYTHON=python3.11" >&2; \
	   exit 1 ;; \
	esac; \
	echo "creating $(VENV) with $(PYTHON) $$v ..."; \
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(VENV)/.stamp-serve: pyproject.toml $(BIN)/python
	@echo "installing mockserver and its dependencies (first run only) ..."
	@$(BIN)/python -m pip install -q -e .
	@touch $@

# The test extra is a superset of serve's dependencies, so it satisfies both stamps.
$(VENV)/.stamp-test: pyproject.toml $(BIN)/python
	@echo "installing mockserver and its test dependencies (first run only) ..."
	@$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@ $(VENV)/.stamp-serve
