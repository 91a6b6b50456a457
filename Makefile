# The two commands of the README: `make demo` (the main job) and `make test`. Both set up first.
.PHONY: setup demo test test-fast lab bench lint clean

VENV := .venv
BIN := $(VENV)/bin

setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/workbench demo

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lab: setup
	$(BIN)/workbench lab

bench: setup
	$(BIN)/python bench/run_all.py

lint:
	$(BIN)/ruff check workbench tests bench

clean:
	rm -rf .workbench reports/demo
