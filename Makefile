# The one entry point. `make test` and `make demo` work from nothing on a fresh
# Debian machine: scripts/setup.sh installs what is missing first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test fast lint format typecheck bench lock clean

setup:
	@scripts/setup.sh

demo: setup
	$(BIN)/journeymap demo

test: setup lint typecheck
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The fast tier only (no browser, no Spark, nothing slow): seconds, for development.
fast: setup
	$(BIN)/pytest -n 2 -m "not browser and not spark and not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: setup
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m benchmarks

# Re-resolve requirements.lock after changing dependencies in pyproject.toml.
lock:
	uv pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache build dist
