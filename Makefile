# nnzoo — `make demo` and `make test` each create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned here (a CPU wheel) and installed first; pyproject.toml stays permissive.
TORCH := torch==2.13.0

.PHONY: demo test bench experiments stubs clean

$(BIN)/nnzoo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: $(BIN)/nnzoo
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/nnzoo demo

test: $(BIN)/nnzoo
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q -n 2 --dist loadscope tests

bench: $(BIN)/nnzoo
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/grading_speed.py

# the robustness experiments on ten seeds (`make test` runs two); results: docs/experiments.md
experiments: $(BIN)/nnzoo
	NNZOO_SEEDS=10 PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q -s tests/test_attention_oracles.py tests/test_rnn_oracles.py -k every_seed
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/gnn_tasks.py 10
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/transfer_experiment.py

stubs: $(BIN)/nnzoo
	$(BIN)/nnzoo stubs

clean:
	rm -rf $(VENV) *.egg-info
