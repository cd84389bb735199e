# Two entry points (see README): `make book` builds the site, `make test` runs the suite CI runs.
# Both create .venv on first use with the offline CPU torch pin and the pyradiomics recipe.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= default
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup book test test-fast chromium clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: 2.13.0 is the CPU wheel available offline; a looser pin pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0" "numpy>=1.26,<3" "setuptools>=68" wheel
	# pyradiomics 3.0.1 compiles against the installed numpy: no build isolation (spec asd-wm-radiomics §9).
	$(BIN)/python -m pip install -q --no-build-isolation "pyradiomics==3.0.1"
	$(BIN)/python -m pip install -q -e ".[book,mri,test]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the headless browser check of the rendered site.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

book: setup
	$(BIN)/lsa book --profile $(PROFILE)

test: setup chromium
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q tests -m "not slow and not browser"

clean:
	rm -rf _build book/chapters book/reproduction-status.md book/_static/mathjax
