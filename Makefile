# The two commands of the README: `make demo` (the main job) and `make test`. Both set up first.
.PHONY: setup demo test test-fast lab bench lint clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/workbench demo

# the session's knowledge base is built in the folder the notebooks, CLI and demo tests use (keyed by config and data),
# so the e5 index and its sentence vectors are built once per run, not twice
TEST_ENV = WORKBENCH_TEST_INDEX_DIR=$(CURDIR)/.workbench/indexes

test: setup
	$(TEST_ENV) $(BIN)/pytest

test-fast: setup
	$(TEST_ENV) $(BIN)/pytest -m "not slow"

lab: setup
	$(BIN)/workbench lab

bench: setup
	$(BIN)/python bench/run_all.py

lint:
	$(BIN)/ruff check workbench tests bench

clean:
	rm -rf .workbench reports/demo
