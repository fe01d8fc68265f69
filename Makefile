# Quickstart: `make demo` (set up, then train NAdamW on mnist1d to its target)
# and `make test` (set up if needed, run the test suite). `make install` sets up alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

DEMO_FLAGS := --workload=mnist1d --submission_path=submissions/nadamw/submission.py \
	--tuning_search_space=submissions/nadamw/mnist1d_demo_point.json \
	--num_studies=1 --num_tuning_trials=1 \
	--experiment_dir=experiments --experiment_name=demo --overwrite

.PHONY: install demo suite-demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: install
	$(BIN)/algoperf-like run $(DEMO_FLAGS)

suite-demo: install
	$(BIN)/algoperf-like suite --quick --overwrite

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/harness_overhead.py

clean:
	rm -rf $(VENV) experiments *.egg-info
