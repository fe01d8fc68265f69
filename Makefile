# Quickstart: `make demo` (set up, then the baselines on the CPU suite, scored)
# and `make test` (set up if needed, run the test suite). `make install` sets up alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: install
	$(BIN)/algoperf-like suite --quick --overwrite

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/harness_overhead.py

clean:
	rm -rf $(VENV) experiments *.egg-info
