# POSIX make. The stamps make re-runs skip pip unless pyproject.toml changed.
PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin

.PHONY: serve test bench

serve: $(VENV)/.stamp-serve
	$(BIN)/mockserver serve

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest

# bench/run.py is a client too, so it gets the test extra (httpx).
bench: $(VENV)/.stamp-test
	$(BIN)/python bench/run.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-serve: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# The test extra is a superset of serve's dependencies, so it satisfies both stamps.
$(VENV)/.stamp-test: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.stamp-serve
