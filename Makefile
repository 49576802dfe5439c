# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev lint typecheck pytest docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,postgres]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: create the venv, install, build a demo workspace in ./c360-data, make an admin key, serve it
demo: $(VENV)/.installed
	$(BIN)/c360 demo --workspace c360-data

## make test: lint, type-check and run the whole test suite
test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

## make docs: regenerate docs/settings.md and docs/cli.md from the code
docs: $(VENV)/.installed
	$(BIN)/python -m c360.docs

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
