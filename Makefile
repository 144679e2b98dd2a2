# The two quick-start commands:  `make demo`  and  `make test`.
# Each creates .venv/ if missing and installs torch==2.13.0 FIRST (the CPU
# build; a plain `torch` requirement would pull GBs of CUDA wheels), then
# bioseq with lower-bounded dependencies.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bioseq-installed
CORES ?= 2

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Main job: the whole workflow on the bundled data, ending in predictions + report.
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --configfile workflows/config/config.yaml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --configfile workflows/config/config.yaml --report results/report.html
	@echo; echo "Predictions: results/predictions/"; ls results/predictions/*.tsv; echo "Report: results/report.html"

# Lint, the structure check (no import cycles, layers only import downward, no
# function over 80 lines) and the default test suite (slow tests: -m slow).
test: $(STAMP)
	$(BIN)/ruff check bioseq tests bench tools
	$(BIN)/python tools/check_structure.py
	$(BIN)/python -m pytest -q -m "not slow" --durations=20

bench: $(STAMP)
	$(BIN)/python bench/tokenize.py

clean:
	rm -rf $(VENV) results logs .snakemake
