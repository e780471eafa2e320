# The two commands of the README, and the rest. Every target sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export DAGSTER_HOME ?= $(CURDIR)/data/dagster

# Offscreen rendering on the CPU (Mesa's EGL).
RUNTIME_PACKAGES := libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri
# The sandboxes: Docker (its image is built from the Debian mirror) and bubblewrap.
SANDBOX_PACKAGES := docker.io bubblewrap debootstrap
# The browser the UI tests drive (Playwright uses Debian's Chromium; nothing is downloaded).
TEST_PACKAGES := chromium
# The production stack (deploy/): PostgreSQL for the Dagster instance; `runuser` runs it as
# `postgres` when make runs as root.
STACK_PACKAGES := postgresql-15 util-linux

.PHONY: setup sandbox dataset test dev lint bench bench-scale bench-latency worker-image stack stack-down

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	scripts/apt-ensure $(RUNTIME_PACKAGES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned Python packages into $(VENV) (about two minutes the first time)"
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# Docker daemon and worker image; needs root (or sudo) the first time.
sandbox: $(STAMP)
	scripts/apt-ensure $(SANDBOX_PACKAGES)
	scripts/ensure-docker
	$(BIN)/benchgen worker-image

# Without root the build still runs, in the strongest sandbox it finds (it says which).
dataset: $(STAMP)
	$(MAKE) sandbox || echo "benchgen: the Docker sandbox could not be set up; see above" >&2
	$(BIN)/benchgen build

test: $(STAMP) sandbox
	scripts/apt-ensure $(TEST_PACKAGES) $(STACK_PACKAGES)
	$(BIN)/pytest -n auto --dist loadgroup --durations=15

worker-image: sandbox

# Ctrl-C and a SIGTERM to make (which make passes on) stop dagster dev and its servers. dagster dev
# handles SIGTERM as it handles SIGINT, so both must be at their defaults: a shell that starts
# make in the background without job control, or nohup, hands them down ignored.
dev: $(STAMP)
	$(BIN)/benchgen dagster-home >/dev/null
	exec env --default-signal=INT,TERM $(BIN)/benchgen dev -h 127.0.0.1 -p 3000 -w workspace.yaml

# PostgreSQL, the S3 server, the code server, the daemon and the web server (see deploy/).
stack: $(STAMP) sandbox
	scripts/apt-ensure $(STACK_PACKAGES)
	$(BIN)/benchgen stack up

stack-down: $(STAMP)
	$(BIN)/benchgen stack down

bench: $(STAMP)
	scripts/apt-ensure $(RUNTIME_PACKAGES)
	$(BIN)/benchgen bench --scenarios 1000

bench-scale: $(STAMP)
	scripts/apt-ensure $(RUNTIME_PACKAGES)
	$(BIN)/benchgen bench --scale 100,1000,10000 --cameras iso

# A request through the UI's path (a dagster dev of its own on 127.0.0.1) against the CLI.
bench-latency: $(STAMP)
	scripts/apt-ensure $(RUNTIME_PACKAGES)
	$(BIN)/benchgen bench --latency --family over_wall --variants 3

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
