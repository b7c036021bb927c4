# chaton - two commands on a fresh Debian 12 machine:
#   make demo   deploy a whole CHATONS host into a local systemd container
#   make test   lint, unit tests and every Molecule scenario
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles

.PHONY: help setup demo test lint docs unit unit-beside scenarios images clean bench audit

help:
	@echo "make demo   - deploy a CHATONS host into a local container and print its URLs"
	@echo "make test   - lint, unit tests and Molecule scenarios (what CI runs)"
	@echo "make lint | docs | unit | scenarios | images | clean"
	@echo "make bench  - a whole host measured: converge and re-deploy cost, footprint (2 GB, and 1 GB light), PeerTube under Etherpad load, Etherpad vs upstream (bench/RESULTS.md)"
	@echo "make audit  - Lynis, testssl.sh, unit exposure, sockets, secret search vs stock Debian (bench/RESULTS.md)"

# The Python environment: rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "installing python3-venv from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.collections/.installed: requirements.yml $(VENV)/.installed
	$(BIN)/chaton collections
	touch $@

setup: $(VENV)/.installed .collections/.installed

images: setup
	$(BIN)/chaton harness images

demo: setup
	$(BIN)/chaton demo

# The unit tests run beside the scenarios (one of them deploys a host into a
# container of its own): the suite's wall time is the scenarios' alone. The
# scenarios' progress streams; pytest's output is shown whole when it ends.
test: lint
	$(MAKE) --no-print-directory -j2 unit-beside scenarios

unit-beside: setup
	@mkdir -p .cache/logs
	@rc=0; $(MAKE) --no-print-directory unit > .cache/logs/unit.log 2>&1 || rc=$$?; \
	  echo "== pytest (log .cache/logs/unit.log)"; cat .cache/logs/unit.log; exit $$rc

lint: setup
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	ruff format --check .
	$(MAKE) --no-print-directory docs

# The documentation (English and French), built strictly: a broken link, a page
# missing from one language or a bad hook fails. Output in .cache/site.
docs: setup
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir .cache/site

# pytest exits 5 when it collects no test: that is not a failure of the suite.
unit: setup
	pytest tests || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest: no tests collected"; [ $$rc -eq 5 ]; }

scenarios: setup
	$(BIN)/chaton harness test

# Benchmarks, not tests: never part of `make test`. Set CHATON_ARTIFACT_MIRROR to include
# the services whose release cannot be downloaded here.
bench: setup
	$(BIN)/chaton bench

audit: setup
	$(BIN)/chaton bench audit

clean:
	$(BIN)/chaton harness clean || true
	rm -rf $(VENV) .collections .cache
