# hamail.webmail: build, lab and test entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PYTHON    ?= python3
SUITES    ?= trixie bookworm
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export MOLECULE_NO_LOG := false
# The lab and the tests boot this release unless told otherwise (trixie = Debian 13).
export HAMAIL_SUITE ?= trixie

BUILD_DIR := build
COLLECTION_TARBALL = $(BUILD_DIR)/hamail-webmail-$(shell sed -n 's/^version: *//p' galaxy.yml).tar.gz

.PHONY: help venv images lint unit sanity build browser-deps browser molecule test lab lab-down clean bench-failover

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "installing Debian's python3-venv"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

venv: $(VENV)/.installed  ## Create the Python environment with the pinned tools

images:  ## Start a Docker engine if none runs, build the Debian 13 and 12 systemd images if missing
	@bash tests/images/build.sh $(SUITES)

lint: venv  ## yamllint, then ansible-lint with the production profile
	yamllint --strict .
	ansible-lint --profile production

unit: venv  ## Unit tests of plugins and helpers (pytest)
	@bash tests/run-pytest.sh tests/unit

sanity: venv  ## ansible-test sanity on the plugins
	@bash tests/run-sanity.sh

build: venv  ## Build the collection, install it in a scratch path, syntax-check hamail.webmail.site from it
	rm -rf $(BUILD_DIR) && mkdir -p $(BUILD_DIR)
	ansible-galaxy collection build --force --output-path $(BUILD_DIR) .
	ansible-galaxy collection install --force -p $(BUILD_DIR)/collections $(COLLECTION_TARBALL)
	cd $(BUILD_DIR) && ANSIBLE_CONFIG=$(CURDIR)/tests/build-empty.cfg ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(BUILD_DIR)/collections \
		ansible-playbook -i $(CURDIR)/inventories/lab hamail.webmail.site --syntax-check

browser-deps:  ## Debian's Chromium for the webmail browser test (Playwright drives it; nothing is downloaded)
	@command -v chromium >/dev/null 2>&1 && command -v certutil >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libnss3-tools fonts-liberation >/dev/null; }

browser: venv browser-deps  ## Headless Chromium through the lab's virtual IP: user1 sends, user2 reads (after make lab)
	pytest -q tests/browser

molecule: venv images browser-deps  ## The cluster scenario on every release in SUITES (Debian 13 and 12)
	@for suite in $(SUITES); do \
		echo "=== molecule cluster on $$suite ==="; \
		image_var=HAMAIL_IMAGE_$${suite^^}; \
		HAMAIL_SUITE=$$suite HAMAIL_IMAGE=$${!image_var:-hamail/debian-systemd:$$suite} \
			molecule test -s cluster || exit 1; \
	done
	@echo "=== molecule badinput on $(HAMAIL_SUITE) (the preflight reads only the inventory) ==="
	image_var=HAMAIL_IMAGE_$${HAMAIL_SUITE^^}; \
		HAMAIL_IMAGE=$${!image_var:-hamail/debian-systemd:$(HAMAIL_SUITE)} molecule test -s badinput

test: venv images  ## Every check, in order, stopping at the first failure
	@bash tests/run-all.sh

lab: venv images  ## Bring up the two-node lab in containers and deploy it
	image_var=HAMAIL_IMAGE_$${HAMAIL_SUITE^^}; \
		HAMAIL_IMAGE=$${!image_var:-hamail/debian-systemd:$(HAMAIL_SUITE)} molecule create -s cluster
	ansible-playbook -i inventories/lab site.yml
	ansible-playbook -i inventories/lab tests/lab-client.yml
	@bash tests/lab-summary.sh

lab-down:  ## Remove the lab containers and network
	molecule destroy -s cluster

clean: lab-down  ## Remove the lab, build output and reports (keeps the images and the venv)
	rm -rf $(BUILD_DIR) reports

bench-failover: venv images  ## Failover benchmark: kill rounds on the lab, median and maximum outage
	@bash tests/bench-failover.sh
