# `make run` and `make test` work on a fresh machine (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench-faces bench-speed clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The Russian and Persian catalogues, compiled from their text files (never committed).
PO := $(wildcard archive/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
$(MO): $(PO) $(STAMP)
	$(BIN)/protest-archive translate compile

# exiftool is the independent metadata reader the tests check against; Debian's chromium
# runs the browser test (tests/test_browser_e2e.py).
system-deps:
	@command -v exiftool >/dev/null 2>&1 || { \
	  echo "installing exiftool (Debian package libimage-exiftool-perl)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libimage-exiftool-perl >/dev/null; }
	@[ -x /usr/bin/chromium ] || { \
	  echo "installing chromium (Debian package, for the browser test; never downloaded by Playwright)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Upgrade the database, make the first admin on the first run (its one-time password is
# printed), then run the web server and the worker together; Ctrl-C stops both.
run: $(STAMP) $(MO)
	$(BIN)/protest-archive start

# Tests run side by side (pytest-xdist): most wait on real servers, workers and browsers,
# so more processes than cores help. Each has its own database schema and queue names.
# One test at a time to each process, longest first (tests/conftest.py), so that no long
# test is left running alone at the end.
PYTEST_WORKERS ?= 4

test: $(STAMP) $(MO) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --maxschedchunk 1

lint: $(STAMP)
	$(BIN)/ruff check .

bench-faces: $(STAMP)
	$(BIN)/python bench/faces.py

bench-speed: $(STAMP)
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info $(MO)
