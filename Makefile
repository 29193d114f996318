# LFS Lead Factory — `make run` serves the product, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Without DATABASE_URL the project-local cluster under .data/ is used (scripts/pg.sh).
ifndef DATABASE_URL
LOCAL_DB := 1
export DATABASE_URL := $(shell scripts/pg.sh url)
endif

.PHONY: help run test setup db db-stop migrate demo web lint format bench bench-scale fuzz clean

help:
	@echo "make run    install what is missing, start PostGIS, migrate, load the demo, serve"
	@echo "make test   the same set-up, then the whole test suite"
	@echo "make bench  the benchmarks (bench/)"
	@echo "make bench-scale  1 M vs 10 M parcels (long: ~1 h; docs/scale.md)"
	@echo "make fuzz   schemathesis over the OpenAPI document, ADMIN and OPS (LFS_FUZZ_SECONDS each)"
	@echo "make lint   ruff (lint and format) and mypy on the packages"

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-%:
	scripts/system-deps.sh $*

db:
ifdef LOCAL_DB
	scripts/pg.sh start
endif

db-stop:
	scripts/pg.sh stop

migrate: setup db
	$(BIN)/leadfactory migrate

demo: migrate
	$(BIN)/leadfactory bootstrap
	@if $(BIN)/leadfactory --help | grep -q '^ *demo'; then $(BIN)/leadfactory demo; fi

web:
	@if [ -f web/package.json ]; then scripts/build-web.sh; fi

run: system-run demo web
	$(BIN)/leadfactory serve --host $(HOST) --port $(PORT) --with-worker

test: system-test setup db web
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if [ -f web/package.json ]; then cd web && npm test --silent; fi
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: system-bench setup db web
	$(BIN)/pip install -q -e '.[dev,bench]'  # tipg, the peer of the tile benchmark
	bench/run.sh

# Not part of `make bench`: builds lfs_bench_10m (10 M parcels, ~6 GB) and measures it beside
# lfs_bench (1 M), interleaved; figures in docs/benchmarks.md and docs/scale.md.
bench-scale: system-bench setup db
	$(BIN)/pip install -q -e '.[dev,bench]'
	bench/run.sh scale

# Not part of `make test`: 5 minutes per role by default (LFS_FUZZ_SECONDS=60 for a quick try);
# fails on any 5xx the server answered.
fuzz: setup db
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/fuzz.py

clean:
	-scripts/pg.sh stop
	rm -rf .data $(VENV)
