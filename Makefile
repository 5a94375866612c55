# `make test` and `make demo` set everything up from a bare Python 3.11.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadfile tests

demo: $(STAMP)
	SPMD_CPU_DEVICES=8 $(PY) examples/train_data_parallel.py

bench: $(STAMP)
	$(MAKE) -C benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
