# `make demo` and `make test` each set up .venv (pinned, from pyproject.toml) first. --no-compile:
# Python compiles what it imports when it first imports it, instead of pip compiling every file of
# the wheels (torch's included) at install time; measured 55 s against 90 s for the install.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-dual demo-orn demo-actx test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --no-compile -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/actattn demo --config configs/demo.yaml

demo-dual: $(STAMP)
	$(VENV)/bin/actattn demo --config configs/dual_attention_demo.yaml

demo-orn: $(STAMP)
	$(VENV)/bin/actattn demo --config configs/orn_demo.yaml

demo-actx: $(STAMP)
	$(VENV)/bin/actattn demo --config configs/actx_demo.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_heads.py
	$(VENV)/bin/python benchmarks/bench_dual_attention.py
	$(VENV)/bin/python benchmarks/bench_loader.py
	$(VENV)/bin/python benchmarks/bench_predict.py
	$(VENV)/bin/python benchmarks/bench_relations.py
	$(VENV)/bin/python benchmarks/bench_orn_step.py
	$(VENV)/bin/python benchmarks/bench_action_context.py

clean:
	rm -rf $(VENV) runs
