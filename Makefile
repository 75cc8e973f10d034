# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: the CPU build pinned here is on these machines' disk; installed first so the
# project's range (torch<=2.13.0) is already satisfied and no CUDA build is pulled in.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.asl-installed

.PHONY: install demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# reinstall when the project metadata changes (new dependency, new entry point)
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/asl-run --task action_det --scorer apu --selector global

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check asl_core plugins tests benchmarks

format: install
	$(BIN)/ruff format asl_core plugins tests benchmarks
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
