# storage.replication: the one front door.
#   make demo   the DR cycle against the lab, across every vendor it serves
#   make test   sanity, units, lint, integration, molecule (what CI runs)
# Every target depends on `setup`, which builds .venv/ from requirements-dev.txt.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON_BOOT ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) $(shell command -v python3))
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
BUILD ?= $(CURDIR)/build
TREE := $(BUILD)/ansible_collections/storage/replication
COLLECTIONS := $(VENV)/collections
LAB_DIR ?= $(CURDIR)/.lab
LAB_TOPOLOGY ?=
PIP_VERSIONS := 25.2 24.2 23.1.2
ANSIBLE_TEST_CACHE := $(HOME)/.ansible/test/cache
PYTEST_ARGS ?=
SANITY_ARGS ?=
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export LAB_DIR
export PATH := $(BIN):$(PATH)
# the lab (lab/, a project of its own): its console script, installed into .venv by setup
LAB := $(BIN)/storage-replication-lab --dir $(LAB_DIR)

.PHONY: help setup tree test sanity units lint integration molecule docs-lint package test-compat demo bench chaos conformance lab-up lab-down lab-status clean

help:
	@echo "make demo         run the DR cycle (setup, failover, failback) against the lab and print the report"
	@echo "make test         sanity, unit tests, ansible-lint, integration tests, molecule"
	@echo "make setup        create .venv/ with the pinned toolchain (every target runs it first)"
	@echo "make sanity | units | lint | integration | molecule | bench | chaos | conformance"
	@echo "make lab-up | lab-down | lab-status   (LAB_TOPOLOGY=..., LAB_DIR=...; the lab alone: pip install ./lab)"

setup: $(STAMP) $(COLLECTIONS)/ansible_collections/storage/replication

$(STAMP): requirements-dev.txt tools/get_pip_standin.py lab/pyproject.toml
	@test -n "$(PYTHON_BOOT)" || { echo "no python3 found" >&2; exit 1; }
	@echo "== setup: $(VENV) with $$($(PYTHON_BOOT) --version)"
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet -e ./lab
	@mkdir -p $(ANSIBLE_TEST_CACHE)/pip-wheels
	@for v in $(PIP_VERSIONS); do \
	  ls $(ANSIBLE_TEST_CACHE)/pip-wheels/pip-$$v-*.whl >/dev/null 2>&1 || \
	    $(PY) -m pip download --quiet --no-deps --only-binary=:all: -d $(ANSIBLE_TEST_CACHE)/pip-wheels pip==$$v; \
	  cp tools/get_pip_standin.py $(ANSIBLE_TEST_CACHE)/get_pip_$$(echo $$v | tr . _).py; \
	done
	@bash tools/ensure_chromium.sh
	@touch $@

$(COLLECTIONS)/ansible_collections/storage/replication:
	@mkdir -p $(COLLECTIONS)/ansible_collections/storage
	@ln -sfn $(CURDIR) $@

tree: setup
	@$(PY) tools/build_tree.py $(BUILD) >/dev/null

# ---------------------------------------------------------------------------- tests
test: setup
	@$(MAKE) sanity
	@$(MAKE) units
	@$(MAKE) conformance
	@$(MAKE) lint
	@$(MAKE) integration
	@$(MAKE) molecule
	@$(MAKE) docs-lint
	@$(MAKE) package
	@$(MAKE) test-compat
	@echo "== make test: all passed"

sanity: tree
	@echo "== ansible-test sanity"
	cd $(TREE) && $(BIN)/ansible-test sanity --python 3.13 --color no $(SANITY_ARGS)

units: setup
	@echo "== unit tests"
	PYTHONPATH=$(COLLECTIONS) $(PY) -m pytest tests/unit -p no:cacheprovider -q \
	  --ignore=tests/unit/roles/test_conformance.py -n 2 --dist loadfile --timeout 600 $(PYTEST_ARGS)

# The safety contract's conformance matrix (216 cells, about 7 minutes on 2 cores): its own target, so
# its nine tests spread over both workers (units keep a module's tests on one worker).
conformance: setup
	@echo "== conformance matrix"
	PYTHONPATH=$(COLLECTIONS) $(PY) -m pytest tests/unit/roles/test_conformance.py -p no:cacheprovider -q -rA \
	  -n 2 --dist load --timeout 900 $(PYTEST_ARGS)

lint: setup
	@echo "== ansible-lint (production profile)"
	$(BIN)/ansible-lint --profile production --offline

integration: tree
	@echo "== integration tests against the lab"
	$(PY) tests/integration/run.py --tree $(TREE) $(INTEGRATION_ARGS)

molecule: setup
	@echo "== molecule"
	$(BIN)/molecule test --all

docs-lint: tree
	@echo "== collection docs and changelog"
	cd $(TREE) && $(BIN)/antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=self .
	$(BIN)/antsibull-changelog lint

package: setup
	@echo "== build, galaxy-importer, install and ansible-doc"
	$(PY) tools/package_check.py $(BUILD)/dist

# Older ansible-core releases the collection supports (requires_ansible >=2.16): version@python. Each runs
# sanity and the module tests; the role tests (most of the time) run on the oldest one, COMPAT_ROLES, where
# behaviour differs most from the current release (warnings, templating); 2.21 runs them all in units.
COMPAT ?= 2.16.19@3.11 2.19.14@3.12
COMPAT_ROLES ?= 2.16.19
COMPAT_PINS := requests|jmespath|pywbem|pytest|pytest-xdist|pytest-timeout|aiohttp|cryptography|PyYAML

test-compat: tree
	@for spec in $(COMPAT); do \
	  core=$${spec%@*}; py=$${spec#*@}; venv=$(CURDIR)/.venv-compat/$$core; \
	  interp=$$(ls $(HOME)/.pyenv/versions/$$py*/bin/python3 2>/dev/null | head -1); \
	  interp=$${interp:-$$(command -v python$$py)}; \
	  test -n "$$interp" || { echo "no Python $$py for ansible-core $$core" >&2; exit 1; }; \
	  echo "== compat: ansible-core $$core on $$($$interp --version)"; \
	  test -x $$venv/bin/python || $$interp -m venv $$venv; \
	  grep -E '^($(COMPAT_PINS))==' requirements-dev.txt > $$venv/pins.txt; \
	  $$venv/bin/python -m pip install --quiet ansible-core==$$core -r $$venv/pins.txt -e ./lab || exit 1; \
	  (cd $(TREE) && $$venv/bin/ansible-test sanity --python $$py --color no) || exit 1; \
	  roles=$$(case " $(COMPAT_ROLES) " in *" $$core "*) echo tests/unit/roles;; esac); \
	  PYTHONPATH=$(COLLECTIONS) $$venv/bin/python -m pytest tests/unit/plugins $$roles --ignore=tests/unit/roles/test_conformance.py \
	    -p no:cacheprovider -q -n 2 --dist loadfile --timeout 600 || exit 1; \
	done

# ---------------------------------------------------------------------------- the lab
lab-up: setup
	@$(LAB) up $(if $(LAB_TOPOLOGY),--topology $(LAB_TOPOLOGY))

lab-down: setup
	@$(LAB) down

lab-status: setup
	@$(LAB) status

# ---------------------------------------------------------------------------- demo, bench
demo: setup
	@bash tools/demo.sh

bench: setup
	$(PY) -m bench

chaos: setup
	$(PY) -m bench.chaos

clean:
	-@$(LAB) down 2>/dev/null
	rm -rf $(BUILD) .ansible tests/output

# ---------------------------------------------------------------------------- execution environment
# The build context of an execution environment for AWX / Automation Platform (extensions/awx/README.md);
# needs no container runtime. Then: podman build -f build/ee/Containerfile -t storage-replication-ee build/ee
.PHONY: ee
ee: setup
	@echo "== execution environment build context in build/ee"
	@rm -rf build/ee-collection && mkdir -p build/ee-collection
	$(BIN)/ansible-galaxy collection build --force --output-path build/ee-collection .
	@mv build/ee-collection/storage-replication-*.tar.gz build/ee-collection/storage-replication.tar.gz
	$(BIN)/ansible-builder create --file execution-environment.yml --context build/ee --output-filename Containerfile
