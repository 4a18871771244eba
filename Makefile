# Set-up is part of every target: the first `make train` or `make test` creates .venv and installs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU build of torch that this project is tested with; on a GPU machine PyPI's build of the
# same version brings CUDA. Override with TORCH="torch==X.Y.Z".
TORCH  ?= torch==2.13.0
# Data: the commands find it themselves (colorgan.data.cifar10.default_data_dir): COLORGAN_DATA wins;
# else the offline copy ../shared/data when present; else ./data.

EXPERIMENT ?= unet_lrelu
SWEEP ?= seed_study
RUNS ?= $(lastword $(sort $(wildcard logs/sweeps/$(SWEEP)/*)))   # the latest launch of SWEEP
ARGS ?=

.PHONY: install train sweep report test test-all lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,export,search,app,tensorboard,pretrained,judge,flow]"
	touch $@

## Train one model on CIFAR-10: make train EXPERIMENT=gan_lrelu ARGS="trainer.max_epochs=3"
train: install
	$(PY) -m colorgan.train +experiment=$(EXPERIMENT) $(ARGS)

## Run a sweep of conf/sweep/: make sweep SWEEP=ablation ARGS="hydra/launcher=parallel"
sweep: install
	$(PY) -m colorgan.train +sweep=$(SWEEP) $(ARGS)

## report.md + comparison.png of finished runs (default: the latest SWEEP): make report RUNS="dir1 dir2"
report: install
	@test -n "$(strip $(RUNS))" || { echo "No run of $(SWEEP) under logs/sweeps/; pass RUNS=\"run or sweep dirs\""; exit 1; }
	$(PY) -m colorgan.report $(RUNS) $(ARGS)

## The test suite CI runs (slow checks skipped)
test: install
	$(PY) -m pytest -m "not slow" $(ARGS)

## Every test, slow ones included
test-all: install
	$(PY) -m pytest $(ARGS)

## Training throughput against a bare PyTorch loop (docs/bench.md): make bench ARGS="--steps 2 --repeats 3"
bench: install
	$(PY) -m colorgan.bench $(ARGS)

lint: install
	$(VENV)/bin/ruff check colorgan tests

clean:
	rm -rf logs multirun outputs report .pytest_cache
