# Developer tasks. `make docs` regenerates man/ and completions/ from the click
# commands (ssechat/_docgen.py); tests/test_docs.py fails until it is run.
PYTHON ?= python3
# The reference conformance corpora; tests/conformance/ is the project's copy.
SHARED ?= ../shared
CORPORA = sse providers longtail repair

.PHONY: all test lint docs conformance

all: lint test

test:
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

docs:
	$(PYTHON) -m ssechat._docgen

# Copy the conformance corpora again from $(SHARED)/conformance, with their sums
# (tests/test_conformance.py says when the copy is stale).
conformance:
	test -d $(SHARED)/conformance
	for corpus in $(CORPORA); do \
	  rm -rf tests/conformance/$$corpus && mkdir -p tests/conformance/$$corpus && \
	  cp $(SHARED)/conformance/$$corpus/*.jsonl tests/conformance/$$corpus/ && \
	  chmod 644 tests/conformance/$$corpus/*.jsonl || exit 1; \
	done
	cd tests/conformance && sha256sum */*.jsonl > SHA256SUMS
