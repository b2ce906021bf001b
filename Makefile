# The two commands of the README's quick start, and the benchmark.
#   make demo   set up, then create and reproduce the demo project in build/demo
#   make test   set up, then run every test (what CI runs, through .ci/run)
#   make bench  set up, then time xp against DVC 3.67.1 side by side (pipeline, experiments, queue),
#               the server, and xp's checkpoints
#   make ext-test  the extension: esbuild bundle, tsc type check, ESLint, unit tests (node --test)
#   make e2e    the extension's smoke test in a real VS Code (code-server + chromium; installs them once)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean ext-deps ext-test e2e package

setup: $(VENV)/.installed

# The demo needs xp alone; the tests add their tools (pytest, mypy, the S3 and SSH libraries and servers).
$(VENV)/.installed-base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e . --config-settings editable_mode=compat
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	rm -rf build/demo
	$(VENV)/bin/xp demo build/demo

test: setup
	$(VENV)/bin/ruff check pyhelper tests bench
	$(VENV)/bin/mypy  # pyproject.toml says what: pyhelper, strict on core/ and the wire protocol
	bash scripts/dvc-venv.sh >/dev/null
	bash scripts/redis-setup.sh >/dev/null
	bash scripts/ssh-setup.sh >/dev/null
	bash scripts/e2e-setup.sh >/dev/null  # chromium: the plots tests render reports in it
	$(PY) -m pytest -n 2 -q
	$(MAKE) --no-print-directory ext-test
	$(MAKE) --no-print-directory e2e

# The extension's npm dependencies (build tools, vscode-languageclient, playwright-core), from
# extension/package-lock.json; reinstalled only when the lock file changes.
ext-deps: extension/node_modules/.package-lock.json

extension/node_modules/.package-lock.json: extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund --loglevel=error

ext-test: ext-deps
	npm run --silent build
	npm run --silent typecheck
	npm run --silent lint
	npm run --silent test:unit

# Fails (non-zero) when any smoke step fails or the smoke test cannot run at all.
e2e: setup ext-deps
	bash scripts/e2e-run.sh

# The installable extension: extension/dist/xp.vsix.
package: ext-deps
	npm run --silent package

bench: setup
	$(PY) bench/pipeline.py
	$(PY) bench/experiments.py
	$(PY) bench/queue_bench.py
	$(PY) bench/redis_queue_bench.py
	$(PY) bench/server_bench.py
	$(PY) bench/checkpoint_bench.py
	$(PY) bench/plots_bench.py

clean:
	rm -rf $(VENV) build extension/dist extension/out test-output
