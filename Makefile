# The two set-up commands of the README: `make up` and `make test`.
# Both create .venv when missing and install only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The dashboard's browser test drives Debian's Chromium through its ChromeDriver.
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: up test lint bench install

install: $(STAMP)

# torch is pinned and installed first: an unpinned torch would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[platform,dev]"
	touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/erroracle up

lint: $(STAMP)
	$(VENV)/bin/ruff check erroracle tests benchmarks

$(CHROMEDRIVER):
	$(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends \
		chromium chromium-driver)

test: lint $(CHROMEDRIVER)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) benchmarks/lake_append.py
