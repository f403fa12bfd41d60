# The README's two commands: `make demo` and `make test`. Both set up first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint airflow screenshots

setup:
	VENV=$(VENV) scripts/setup.sh

## Simulate 3 clusters into a local Prometheus, cost their days, serve the API.
demo: setup
	$(BIN)/k8scost demo

## Airflow standalone (UI on :8080) with the project's DAGs, and the API (:8000) beside it.
airflow: setup
	$(BIN)/python scripts/airflow_local.py

## Lint, then every test tier (unit, DAG, end-to-end with real Prometheus/chdb/Airflow).
# Two processes, a test file each at a time (a file's module fixtures are built once).
test: setup lint
	$(BIN)/pytest -n 2 --dist loadfile

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## PNGs of the dashboard's three pages on the demo's data, for the README (docs/img/).
screenshots: setup
	$(BIN)/k8scost ui screenshots docs/img
