# seqbench: `make run` sets up and runs the pipeline; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.seqbench-installed
MLFLOW_URI ?= sqlite:///mlruns/mlflow.db
PYTEST_ARGS ?=
PROFILE ?=
PEERS_VENV ?= .venv-peers
PEERS_ARGS ?=

.PHONY: setup run smoke test test-fast test-slow lint format lock ui server pull views bench-peers \
  clean-venv

setup: $(STAMP)

# Re-installs only when the dependency declaration or the lock file changes.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

# PROFILE=profiles/large.yaml runs with that overlay merged over params.yaml (see `smoke`).
run: setup
ifdef PROFILE
	$(BIN)/python -m seqbench.profiles $(PROFILE) -- $(BIN)/dvc repro
else
	$(BIN)/dvc repro
endif

# The whole pipeline on tiny budgets (profiles/smoke.yaml merged over params.yaml), run in a
# fresh copy of this checkout at .smoke/ (its working changes included): this checkout's files,
# git index and committed results stay untouched. Uses $$SEQBENCH_MIRROR like `make run`.
smoke: setup
	$(BIN)/python -m seqbench.profiles --workspace .smoke profiles/smoke.yaml -- \
	  $(abspath $(BIN))/dvc repro

# Every test, the slow ones included (the README's command, and CI's).
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast tier for development: everything not marked slow.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rewrites constraints.txt from the current environment (torch excluded: TORCH_SPEC chooses it).
lock: setup
	$(BIN)/python -m pip freeze --exclude-editable \
	  | grep -viE '^(torch==|nvidia-|triton==|seqbench)' > constraints.txt

ui: setup
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_URI) --host 127.0.0.1 --port 5000

# The team setup on this machine: PostgreSQL (MLflow's store, Optuna's studies) and an MLflow
# server on 127.0.0.1:5000 with its artifacts in .server/artifacts; prints what to export.
server: setup
	$(BIN)/seqbench server --root .server --port 5000 --pg-port 5433

# Data, models, metrics and reports of this commit from the DVC remote (see "Scaling out").
pull: setup
	$(BIN)/dvc pull

# Offline HTML views (DVC plots, Data Docs) with their JS/CSS from pinned npm packages, no CDN.
views: setup
	npm ci --prefix views --no-audit --no-fund --ignore-scripts --silent
	$(BIN)/seqbench views --out reports/views

# The PeMS LSTM against Darts and neuralforecast (bench/peers.py; PEERS_ARGS="--rounds 1 --epochs 2"
# for a quick look). The peers live in their own $(PEERS_VENV), so .venv is never changed: the
# lock constraints.txt applies there except for the packages bench/peers-constraints.txt re-pins.
bench-peers: $(PEERS_VENV)/.seqbench-peers-installed
	$(PEERS_VENV)/bin/python bench/peers.py $(PEERS_ARGS)

$(PEERS_VENV)/.seqbench-peers-installed: pyproject.toml constraints.txt bench/peers-constraints.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(PEERS_VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	awk -F'==' 'NR == FNR { if (/^[^#]/) repinned[tolower($$1)]; next } \
	  !(tolower($$1) in repinned)' bench/peers-constraints.txt constraints.txt \
	  | cat - bench/peers-constraints.txt > $(PEERS_VENV)/constraints.txt
	$(PEERS_VENV)/bin/python -m pip install --quiet -c $(PEERS_VENV)/constraints.txt -e '.[peers]'
	@touch $@

clean-venv:
	rm -rf $(VENV)
