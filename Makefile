# ocseg — every target installs what it needs first (idempotent), so a fresh clone needs
# only `make train` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ocseg-installed
ARGS ?=
PYTEST_ARGS ?=

# albumentations checks PyPI for updates at import time; there is no network here.
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install train test test-fast bench bench-quick segfix-demo clean-venv help

help:
	@echo "make install   create .venv with pinned dependencies (no-op when up to date)"
	@echo "make train     train the embedded default (ARGS='key=value ...' for overrides)"
	@echo "make test      run the test suite"
	@echo "make bench-quick  every benchmark at small sizes (minutes, CPU): bench/results/<device>.json"
	@echo "make bench     every benchmark at full sizes (an hour or more on 2 cores); ARGS='--original-repo DIR --mmseg DIR'"
	@echo "make segfix-demo  the SegFix chain on the embedded dataset (~22 min on 2 cores)"

install: $(STAMP)

# torch is installed first and pinned: the CPU build on this machine; an unpinned torch
# would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

train: install
	$(BIN)/python train.py $(ARGS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

bench-quick: install
	$(BIN)/python bench/run.py --quick $(ARGS)

bench: install
	$(BIN)/python bench/run.py $(ARGS)

segfix-demo: install
	PYTHON=$(BIN)/python scripts/segfix_demo.sh $(ARGS)

clean-venv:
	rm -rf $(VENV)
