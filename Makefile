# The two commands of the README's quick start, and the benchmark.
#   make demo   set up, then create and reproduce the demo project in build/demo
#   make test   set up, then run every test (what CI runs, through .ci/run)
#   make bench  set up, then time xp against DVC 3.67.1 side by side (pipeline, experiments, queue),
#               the server, and xp's checkpoints
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@

demo: setup
	rm -rf build/demo
	$(VENV)/bin/xp demo build/demo

test: setup
	$(VENV)/bin/ruff check pyhelper tests bench
	bash scripts/dvc-venv.sh >/dev/null
	bash scripts/redis-setup.sh >/dev/null
	$(PY) -m pytest -n 2 -q

bench: setup
	$(PY) bench/pipeline.py
	$(PY) bench/experiments.py
	$(PY) bench/queue_bench.py
	$(PY) bench/redis_queue_bench.py
	$(PY) bench/server_bench.py
	$(PY) bench/checkpoint_bench.py

clean:
	rm -rf $(VENV) build
