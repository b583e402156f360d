# Berth's entry points. The targets are contracts: scripts, CI and the docs rely on them.
#   make install   Debian packages and .venv/ (scripts/install.sh)
#   make services  PostgreSQL, Redis, dockerd, a second Docker host and the registry (scripts/services.sh)
#   make lint      ruff
#   make test      everything CI runs (.ci/run)
#   make run       the embedded portal on 127.0.0.1:$(BERTH_PORT), the router on $(BERTH_ROUTER_PORT)/$(BERTH_ROUTER_TLS_PORT)
#   make stop      stop the router `make run` started (it outlives the portal so apps keep serving)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python

export BERTH_DATA_DIR ?= ./var
export BERTH_PORT ?= 8000
export BERTH_ROUTER_PORT ?= 8080
export BERTH_ROUTER_TLS_PORT ?= 8443

.PHONY: help install services lint test run stop

help:
	@sed -n '1,8p' Makefile

install:
	bash scripts/install.sh

services:
	bash scripts/services.sh --extra-hosts 1 --registry

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Target-specific exports: only `make test` runs against PostgreSQL and Redis; `make run` stays
# on the embedded defaults (SQLite, in-process channel layer) under $(BERTH_DATA_DIR).
test: export DATABASE_URL := postgres://postgres@127.0.0.1:5432/berth
test: export REDIS_URL := redis://127.0.0.1:6379/0
test: install services
	$(MAKE) --no-print-directory lint
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest

# The embedded portal serves plain HTTP on loopback (BERTH_HTTPS stays unset). It runs the platform registry on
# loopback and pushes every build there, so any host registered later (addhost) can pull the app's image.
run: export BERTH_REGISTRY ?= 127.0.0.1:5000
run: install
	bash scripts/services.sh --registry
	$(PY) manage.py migrate --noinput
	$(PY) manage.py router --check
	$(PY) manage.py demo
	$(PY) manage.py addhost local unix:///var/run/docker.sock --routing network --builder --if-no-hosts
	bash scripts/busybox-stack.sh
	exec $(PY) manage.py serve

# The router (HAProxy) keeps serving the apps when `make run` stops; this stops it.
stop:
	$(PY) manage.py router --stop
