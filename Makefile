# Two commands on a fresh machine with Python 3.11 and pip: `make demo`, `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format docs bench bench-densenet clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torchvision and timm are references for the tests, never dependencies: their wheels ask
# for a CUDA torch, so they come without theirs (their model code runs on the CPU build).
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps torchvision==0.28.0 timm==1.0.31 monai==1.6.1
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/archspec validate resnet50
	$(BIN)/archspec summary resnet50
	$(BIN)/archspec build resnet50 --seed 0
	mkdir -p build
	$(BIN)/archspec render resnet50 -o build/resnet50.svg
	@echo "the resnet50 diagram is at $(CURDIR)/build/resnet50.svg"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The site (mkdocs.yml, strict: a broken link fails), after regenerating the reference.
docs: $(STAMP)
	$(BIN)/python scripts/gen_spec_docs.py
	$(BIN)/python scripts/gen_diagrams.py
	$(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_resnet50.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_scaling.py
	$(BIN)/python benchmarks/bench_ranks.py
	$(BIN)/python benchmarks/bench_ode.py

# About five minutes: densenet121 training steps with and without memory_efficient.
bench-densenet: $(STAMP)
	$(BIN)/python benchmarks/bench_densenet_memory.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
