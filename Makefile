# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: the CPU build pinned here is on these machines' disk; installed first so the
# project's range (torch<=2.13.0) is already satisfied and no CUDA build is pulled in.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.asl-installed
# the third-party plugin example: its own distribution, installed next to the toolkit so that
# `make test` runs its tests and uses it through the `asl` entry points like any plugin
EXAMPLE := examples/asl-scorer-example

.PHONY: install demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# reinstall when the project metadata changes (new dependency, new entry point). The example
# is installed offline (--no-index: its requirements, asl-toolkit, numpy and attrs, are
# installed by then) and built with the venv's own setuptools (--no-build-isolation; torch
# requires setuptools), so it needs no package index at all.
$(STAMP): pyproject.toml $(EXAMPLE)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-index \
		--no-build-isolation -e $(EXAMPLE)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/asl-run --task action_det --scorer apu --selector global

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check asl_core plugins tests benchmarks examples

format: install
	$(BIN)/ruff format asl_core plugins tests benchmarks examples
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
	rm -rf $(EXAMPLE)/build $(EXAMPLE)/*.egg-info
