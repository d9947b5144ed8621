# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] <= (3,12))' && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin

# Two workers (pytest-xdist), each module on one worker: most of the suite waits on real
# processes and sockets, so two workers halve the wall time on a 2-core machine (9m46s -> 5m48s
# measured). PYTEST_PARALLEL= (empty) runs it in one process.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

.PHONY: demo test test-fast lint bench clean chromium screenshots

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "slaplug needs Python 3.11 or 3.12 (durable-rules does not import on 3.13)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Built-in connectors are separate distributions under plugins/, installed like third-party
# plugins; one pip call, so their dependency on slaplug resolves to this checkout.
PLUGINS := $(wildcard plugins/*/pyproject.toml)

$(VENV)/.installed: pyproject.toml $(PLUGINS) | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]' $(foreach p,$(PLUGINS),-e $(dir $(p)))
	@touch $@

# The main job against the bundled fake helpdesks: no credentials, no server to install.
demo: $(VENV)/.installed
	$(BIN)/slaplug demo

# The HTML report test renders in headless Chromium (Debian's package); install it when we can.
# Without it (not root, no apt) that one test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
		echo "chromium could not be installed: the HTML report rendering test will skip"

# The dashboard's screenshots in docs/img (docs/dashboard.md), taken by its browser tests on
# the demo's data.
screenshots: $(VENV)/.installed chromium
	SLAPLUG_SCREENSHOTS=docs/img $(BIN)/python -m pytest -q -p no:xdist tests/test_web_browser.py

test: $(VENV)/.installed chromium
	$(BIN)/ruff check slaplug tests bench plugins
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

# The inner loop: every test but those marked slow (tests/conftest.py, SLOW_MODULES); under
# 2 minutes. CI (`make test`, .ci/run) keeps running the whole suite.
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not slow"

lint: $(VENV)/.installed
	$(BIN)/ruff check slaplug tests bench plugins
	$(BIN)/mypy

bench: $(VENV)/.installed
	$(BIN)/python bench/calendar.py
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
