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
# mkdocs-material prints a banner about its successor on every build
export NO_MKDOCS_2_WARNING := 1

# reproduce-cityscapes[-val]: DATA= (paths.data_dir, holding cityscapes/ and mapillary/),
# GPUS= (default all, 0 = CPU), RUNS=, PRETRAINED=, SEGFIX_CKPT=, OFFSETS=,
# MAPILLARY_CKPT=, DRY_RUN=1 (print the commands), REPRO_TINY=1 (tiny data, a CPU smoke run),
# ARGS= (overrides added to every train.py stage). docs/reproduce-cityscapes.md.
REPRO_FLAGS = $(if $(DATA),--data=$(DATA)) $(if $(GPUS),--gpus=$(GPUS)) \
	$(if $(RUNS),--runs=$(RUNS)) \
	$(if $(PRETRAINED),--pretrained=$(PRETRAINED)) $(if $(SEGFIX_CKPT),--segfix-ckpt=$(SEGFIX_CKPT)) \
	$(if $(OFFSETS),--offsets=$(OFFSETS)) $(if $(MAPILLARY_CKPT),--mapillary-ckpt=$(MAPILLARY_CKPT)) \
	$(if $(filter 1,$(DRY_RUN)),--dry-run) $(if $(filter 1,$(REPRO_TINY)),--tiny)

.PHONY: install train eval test test-fast lint docs docs-serve bench bench-quick segfix-demo screenshots \
	reproduce-cityscapes reproduce-cityscapes-val clean-venv help

help:
	@echo "make install   create .venv with pinned dependencies (no-op when up to date)"
	@echo "make train     train the embedded default (ARGS='key=value ...' for overrides)"
	@echo "make eval      evaluate a checkpoint: ARGS='ckpt_path=<file> ...'"
	@echo "make test      run the test suite (make test-fast: without the slow end-to-end tests)"
	@echo "make lint      ruff, import-linter (the layers; settings in pyproject.toml), mkdocs build --strict"
	@echo "make docs      build the docs site into site/ (make docs-serve: serve it on localhost:8000)"
	@echo "make bench-quick  every benchmark at small sizes (minutes, CPU): bench/results/<device>.json"
	@echo "make bench     every benchmark at full sizes (an hour or more on 2 cores); ARGS='--original-repo DIR --mmseg DIR'"
	@echo "make segfix-demo  the SegFix chain on the embedded dataset (~25 min on 2 cores)"
	@echo "make screenshots  docs/img/report-*.png: each kind of report.html in headless Chromium (the browser tests)"
	@echo "make reproduce-cityscapes      the leaderboard pipeline (DATA=, GPUS=, DRY_RUN=1, ...)"
	@echo "make reproduce-cityscapes-val  the 80k HRNet-W48+OCR val row, w/ and w/o SegFix"

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

eval: install
	$(BIN)/python eval.py $(ARGS)

# one pytest worker per core; a test file stays on one worker (its module fixtures are built once)
test: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile $(PYTEST_ARGS)

# ruff, import-linter, then the docs site with --strict: a broken link or anchor, or a page left
# out of the nav, fails
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mkdocs build --strict --quiet

docs: install
	$(BIN)/mkdocs build

docs-serve: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

test-fast: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not slow" $(PYTEST_ARGS)

bench-quick: install
	$(BIN)/python bench/run.py --quick $(ARGS)

bench: install
	$(BIN)/python bench/run.py $(ARGS)

# the browser tests of tests/test_report.py, saving the top of each page they open
screenshots: install
	OCSEG_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/test_report.py

segfix-demo: install
	PYTHON=$(BIN)/python scripts/segfix_demo.sh $(ARGS)

reproduce-cityscapes: install
	$(BIN)/python scripts/reproduce_cityscapes.py leaderboard $(strip $(REPRO_FLAGS)) $(ARGS)

reproduce-cityscapes-val: install
	$(BIN)/python scripts/reproduce_cityscapes.py val $(strip $(REPRO_FLAGS)) $(ARGS)

clean-venv:
	rm -rf $(VENV)
