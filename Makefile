# Developer tasks. `make docs` regenerates man/ and completions/ from the click
# commands (ssechat/_docgen.py); tests/test_docs.py fails until it is run.
PYTHON ?= python3

.PHONY: all test lint docs

all: lint test

test:
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

docs:
	$(PYTHON) -m ssechat._docgen
