# Two entry points (see README): `make book` builds the site, `make test` runs the suite CI runs.
# Both create .venv on first use with the offline CPU torch pin and the pyradiomics recipe.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= default
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book test test-fast chromium slurm clean wheels paper-gpu lint format

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: 2.13.0 is the CPU wheel available offline; a looser pin pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0" "numpy>=1.26,<3" "setuptools>=68" wheel
	# pyradiomics 3.0.1 compiles against the installed numpy: no build isolation.
	$(BIN)/python -m pip install -q --no-build-isolation "pyradiomics==3.0.1"
	$(BIN)/python -m pip install -q -e ".[book,mri,test]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the headless browser check of the rendered site.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's SLURM and munge for the single-node SLURM test of `--cluster slurm` (tests/test_slurm.py starts the
# daemons on localhost and stops them; without root or apt the test skips and says why).
slurm:
	@test -x /usr/sbin/slurmctld || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; }

book: setup
	$(BIN)/lsa book --profile $(PROFILE)

test: setup chromium slurm lint
	$(BIN)/python -m pytest -q tests

# ruff: lint and format check (rules in pyproject.toml); `make format` applies the formatter
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .

test-fast: setup
	$(BIN)/python -m pytest -q tests -m "not slow and not browser"

# The paper queue on a GPU machine (see README "Paper scale"). `make wheels` here pins and downloads what the
# GPU machine lacks (the runner's notebook stack, nilearn/nibabel) into .whl/, carried with the working tree;
# `make paper-gpu` there installs them offline, then runs `lsa paper` inside BUDGET seconds and copies the
# archived runs to $$OUT when the device tool provides it. DEVICE_PY selects the GPU machine's Python (e.g. 3.12).
BUDGET ?= 540
DEVICE_PY ?=
WHEEL_TARGET := $(if $(DEVICE_PY),--python-version $(DEVICE_PY) --platform manylinux2014_x86_64 --implementation cp,)

wheels: setup
	mkdir -p .whl
	$(BIN)/lsa paper --requirements > .whl/requirements.txt
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: $(WHEEL_TARGET) -d .whl -r .whl/requirements.txt
	du -sh .whl

paper-gpu:
	$(PYTHON) -m pip install -q --no-index --find-links .whl -r .whl/requirements.txt
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation -e .
	$(PYTHON) -m lsa.cli paper --budget $(BUDGET) --report "$${OUT:-.}/paper-queue.json"
	if [ -n "$${OUT:-}" ]; then cp -r results/paper "$$OUT/results-paper"; fi

clean:
	rm -rf _build book/chapters book/reproduction-status.md book/_static/mathjax
