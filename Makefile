# Quickstart: `make demo` (set up, then score the four baselines on three CPU workloads, quick
# mode, and print the leaderboard) and `make test` (set up if needed, run the test suite).
# `make install` sets up alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

ONE_RUN_FLAGS := --workload=mnist1d --submission_path=nadamw \
	--tuning_search_space=mnist1d_demo_point.json \
	--num_studies=1 --num_tuning_trials=1 \
	--experiment_dir=experiments --experiment_name=demo --overwrite

SELECTION_STUDY_FLAGS := --quick --quick_base=nadamw --num_studies=3 \
	--submissions=data_selection \
	--workload=cpu_qualification,data_selection \
	--experiment_dir=experiments/data_selection_study --overwrite \
	--report_dir=docs/data_selection_study --report_title="Data-selection study" \
	--report_command="make selection-study"

# The noise study (docs/noise/): two baselines on two cheap CPU workloads, 3 seeds x 3
# repeats of each seed, each run with its quick-mode point; resumable.
NOISE_FLAGS := --workloads=noise --submissions=momentum,nesterov \
	--seeds=3 --repeats=3 --calibrate_repeats=3 --experiment_dir=experiments/noise \
	--report_dir=docs/noise \
	--report_command="make noise-report"

.PHONY: install sandbox-deps demo demo-one suite selection-study noise-report test test-full-scale test-isa test-image wheel-test lint format bench lock image-cpu clean

# `make install CONSTRAINTS=constraints.txt`: the versions of the lock file (as the images have
# them) instead of the newest that pyproject.toml allows.
CONSTRAINTS ?=
install: $(STAMP)

# bubblewrap, the sandbox of `check` (default) and `run --sandbox` (apt-get; root or sudo).
sandbox-deps:
	bash scripts/install_system_deps.sh

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),--constraint $(CONSTRAINTS)) -e ".[test]"
	touch $(STAMP)

# constraints.txt, the one lock file of the images (docker/), from .venv (docker/lock.sh says how).
lock: install
	bash docker/lock.sh

# The four baselines on the three workloads of suite `demo`, one trial each with its best
# target-setting point (oracle points: not a benchmark result; `make suite` is one); scored,
# leaderboard printed (measured in README.md, "How long").
demo: install
	$(BIN)/algoperf-like suite --quick --overwrite --workload=demo

# One run: NAdamW on mnist1d with a known good point, to its target (about 15 s).
demo-one: install
	$(BIN)/algoperf-like run $(ONE_RUN_FLAGS)

# The full suite: each baseline tuned with 5 quasirandom points per workload, one study
# (120 trials); the benchmark result, its report written to docs/suite_full/ for committing.
suite: install
	$(BIN)/algoperf-like suite --overwrite --experiment_dir=experiments/suite_full \
		--report_dir=docs/suite_full --report_command="make suite" \
		--report_title="CPU suite, full mode: 4 baselines, 5 points per workload, 1 study"

# The data-selection baselines against uniform sampling; rewrites docs/data_selection_study/.
selection-study: install
	$(BIN)/algoperf-like suite $(SELECTION_STUDY_FLAGS)

# Rerun fixed configurations and rewrite docs/noise/ (machine and training noise,
# signal-to-noise, studies to separate the baselines). 36 trials; about 12 minutes on this
# 2-core machine under load (8-40 s per trial). Finished trials are skipped: rm -rf
# experiments/noise (or pass --overwrite) to measure again.
noise-report: install
	$(BIN)/algoperf-like noise $(NOISE_FLAGS)

# Everything but the full-scale workload tests and the image test (about 20 minutes on 2 cores).
test: install sandbox-deps
	$(BIN)/python -m pytest -m "not full_scale and not image"

# AlgoPerf's full-scale workloads (ImageNet, fastMRI, OGBG, Criteo 1TB, WMT, LibriSpeech, ...)
# initialised, trained a few steps and evaluated on tiny synthetic data in their real
# on-disk formats. Compilation-bound: kept out of `make test`, run by CI after it.
test-full-scale: install
	$(BIN)/python -m pytest -m full_scale

# The CPU image built with buildah (docker/build.sh cpu: no Docker daemon, no registry needed;
# as root) and a baseline trained to its target inside it, then `check` (tests/test_images.py).
# 8 minutes on 2 busy cores with the base image kept, about 12 with the Debian base to
# bootstrap first, most of it pip installing; run by CI (.ci/run).
test-image: install
	$(BIN)/python -m pytest -m image tests/test_images.py

# The CPU image alone; the last line of output is its reference.
image-cpu:
	bash docker/build.sh cpu

# The second-machine check: the tests whose outcome rests on floating-point rounding
# (marker `numerics`), with XLA's CPU code generation capped at an older instruction set
# (--xla_cpu_max_isa), so that a newer CPU sees what an older one would. AVX is the default
# because on an AVX-512 host capping at AVX2 left these runs bit-identical (LLVM already
# prefers 256-bit vectors there) while AVX (no FMA) changes their rounding.
# `make test-isa ISA=AVX2` caps elsewhere.
ISA ?= AVX
test-isa: install
	XLA_FLAGS="--xla_cpu_max_isa=$(ISA)" $(BIN)/python -m pytest -m numerics

# The package as a user gets it: a wheel from a fresh clone of HEAD in a fresh venv, used from
# an empty folder (run a baseline to the target, score, check; tests/wheel_smoke.sh). About
# 3-4 minutes, most of it installing the dependencies. WHEEL_SMOKE_WORKTREE=1: the working tree.
wheel-test: sandbox-deps
	bash tests/wheel_smoke.sh

# Style: ruff (2-space indent, single quotes; pyproject.toml [tool.ruff]). `make format` fixes.
# actionlint checks the GitHub workflows (their run: scripts with shellcheck), hadolint the
# Dockerfiles, shellcheck the image scripts (all three from the test extra).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck .github/workflows/*.yml
	$(BIN)/shellcheck docker/build.sh docker/lock.sh .ci/run
	$(BIN)/hadolint docker/Dockerfile.cpu docker/Dockerfile.cuda docker/Dockerfile.tpu

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/harness_overhead.py

clean:
	rm -rf $(VENV) experiments *.egg-info
