# MedRoom: two commands. `make run` starts the demo room; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test setup setup-test browser firefox turn gstreamer npm-clients pacs lint typecheck bench fuzz clean

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

setup-test: $(VENV)/.installed-test browser firefox turn gstreamer npm-clients pacs

# Third-party WHEP/WHIP browser clients from npm (tests/e2e/test_npm_clients.py), installed into
# the ignored .cache/npm and bundled with esbuild; node and npm from Debian.
NPM_DIR := .cache/npm
npm-clients: $(NPM_DIR)/clients.js

$(NPM_DIR)/clients.js: tests/e2e/npm_clients/package.json tests/e2e/npm_clients/entry.js
	@if command -v npm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null; \
	else \
		echo "The npm client tests need node and npm: 'sudo apt-get install nodejs npm'"; exit 1; \
	fi
	mkdir -p $(NPM_DIR)
	cp tests/e2e/npm_clients/package.json tests/e2e/npm_clients/entry.js $(NPM_DIR)/
	cd $(NPM_DIR) && npm install --no-audit --no-fund --cache ./cache >/dev/null
	cd $(NPM_DIR) && ./node_modules/.bin/esbuild entry.js --bundle --format=iife --outfile=clients.js

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

# GStreamer's webrtcbin for the WHIP/WHEP interoperability test (tests/e2e/test_gstreamer.py),
# driven by Debian's python3 through python3-gi. Without it that test fails naming this command.
GST_PACKAGES := python3-gi gir1.2-gst-plugins-bad-1.0 gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-libav
GST_PROBE := import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0'); \
	from gi.repository import Gst; Gst.init(None); \
	assert all(Gst.ElementFactory.find(e) for e in ('webrtcbin', 'nicesrc', 'x264enc', 'avdec_h264'))
gstreamer:
	@if /usr/bin/python3 -c "$(GST_PROBE)" 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's GStreamer (webrtcbin) for the WHIP/WHEP interoperability test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(GST_PACKAGES)) >/dev/null; \
	else \
		echo "The GStreamer test needs: sudo apt-get install $(GST_PACKAGES)"; \
	fi

# A real PACS for the PACS tests (tests/pacs_peer.py): Debian's Orthanc with its DICOMweb and
# worklist plugins, started by the tests on loopback with their own storage, never as a daemon;
# dicom3tools' dciodvfy checks every object MedRoom exports.
PACS_PACKAGES := orthanc orthanc-dicomweb dicom3tools
pacs:
	@if [ -x /usr/sbin/Orthanc ] && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] && command -v dciodvfy >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's Orthanc and dicom3tools for the PACS tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PACS_PACKAGES)) >/dev/null; \
		systemctl disable --now orthanc >/dev/null 2>&1 || true; \
	else \
		echo "The PACS tests need: sudo apt-get install $(PACS_PACKAGES); they are skipped without it"; \
	fi

run: setup
	$(BIN)/medroom serve

# Two passes (README "Tests"): the suite on $(TEST_WORKERS) pytest-xdist workers, one test module
# per unit of work (--dist loadfile); then the `serial` modules (network namespaces, CPU and
# timing figures) alone on the machine. Both passes always run; the target fails if either did.
TEST_WORKERS ?= 2
PYTEST := MEDROOM_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest
test: setup-test
	@status=0; \
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile -m "not serial" || status=$$?; \
	$(PYTEST) -m serial || status=$$?; \
	exit $$status

# Schemathesis over the OpenAPI description with a larger budget than the suite's (a test server
# with its own data folder; no request may get a 5xx).
fuzz: setup-test
	MEDROOM_FUZZ_EXAMPLES=50 MEDROOM_FUZZ_SECONDS=900 $(BIN)/python -m pytest -s tests/web/test_fuzz_api.py

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
