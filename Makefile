# Every target creates .venv and installs the project (pinned by requirements.lock) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
# One project-local Dagster instance (dagster.yaml here) for make run, the CLI and the UI.
export DAGSTER_HOME := $(CURDIR)

.PHONY: install run test test-fast ui lint bench bench-big lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/ml-data-platform run

# Tests run on every core (pytest-xdist); each test has its own temp dirs and processes.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto

# The fast tier: pure functions, files and settings (marked `fast`), in seconds.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n auto -m fast

# The UI and the daemon (sensors, freshness, queued runs) through dg ([tool.dg] in pyproject.toml).
ui: $(STAMP)
	$(BIN)/dg dev

# Side-by-side benchmark (ours / seed-style / floor) -> benchmarks/RESULTS.md; ~15 min.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Bigger than memory: ml-data-platform run in the database vs in memory vs the out-of-core
# floor, at 1M and 10M rows -> benchmarks/RESULTS_BIG.md; ~12 min (BIG_ARGS="--rows ..." for more).
bench-big: $(STAMP)
	$(BIN)/python -m benchmarks.big $(BIG_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-pin after changing dependency ranges in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^ml.data.platform' > requirements.lock

clean:
	rm -rf $(VENV) data storage history schedules logs .logs_queue .nux .telemetry
