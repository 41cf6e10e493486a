# The two commands a new user needs: `make demo` and `make test`. Both bootstrap .venv.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= python3

export UV_COMPILE_BYTECODE := 1
export LANGSMITH_TRACING_V2 := false
export LANGCHAIN_TRACING_V2 := false
export LANGSMITH_TRACING := false

.PHONY: install test lint typecheck pytest docs demo bench serve clean screenshots

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) -e '.[all,dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest docs

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir .site -q

demo: $(STAMP)
	$(VENV)/bin/dify-integrations demo

serve: $(STAMP)
	$(VENV)/bin/dify-integrations serve

bench: $(STAMP)
	$(PY) -m benchmarks --charts docs/assets/bench

# Not part of `make test`: builds the site and screenshots every page with headless
# Chromium (Debian: apt-get install -y chromium) into .screenshots/ for review.
screenshots: $(STAMP)
	$(PY) dev/screenshots.py

clean:
	rm -rf .site .screenshots .mypy_cache .ruff_cache .pytest_cache
