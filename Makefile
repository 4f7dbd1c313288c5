# MedRoom: two commands. `make run` starts the demo room; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test setup setup-test browser firefox turn lint typecheck bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "MedRoom needs Python 3.11 ($(PYTHON) not found; set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test browser firefox turn

# Headless Chromium for the page tests: Debian's package, never a downloaded browser.
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the page tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else \
		echo "The page tests need Debian's chromium: run 'sudo apt-get install chromium' (or set CHROMIUM=/path)"; exit 1; \
	fi

# Firefox ESR for the VP8 viewer test (a browser without H.264): Debian's package, driven over
# its own WebDriver BiDi agent; no geckodriver, never a downloaded browser.
firefox:
	@if [ -x "$${MEDROOM_FIREFOX:-/usr/bin/firefox-esr}" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's firefox-esr for the VP8 viewer test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends firefox-esr) >/dev/null; \
	else \
		echo "The VP8 viewer test needs Debian's firefox-esr: run 'sudo apt-get install firefox-esr'"; exit 1; \
	fi

# TURN server for the relay-only ICE test: Debian's coturn, run by the test itself, never as a daemon.
turn:
	@if command -v turnserver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's coturn for the TURN test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn) >/dev/null; \
		systemctl disable --now coturn >/dev/null 2>&1 || true; \
	else \
		echo "The TURN test needs Debian's coturn ('sudo apt-get install coturn'); it is skipped without it"; \
	fi

run: setup
	$(BIN)/medroom serve

test: setup-test
	MEDROOM_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

lint:
	$(BIN)/ruff check config room_controller streaming recorder library web tests

typecheck:
	$(BIN)/mypy

bench: setup
	$(BIN)/medroom bench fanout --viewers 1 10 --seconds 10
	$(BIN)/medroom bench recording
	$(BIN)/medroom bench latency --viewers 4 --seconds 10

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache
