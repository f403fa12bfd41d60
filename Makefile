# The README's two commands: `make demo` and `make test`. Both set up first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-celery lint airflow airflow-celery screenshots

setup:
	VENV=$(VENV) scripts/setup.sh

## Simulate 3 clusters into a local Prometheus, cost their days, serve the API.
demo: setup
	$(BIN)/k8scost demo

## Airflow (UI on 127.0.0.1:8080) with the project's DAGs, and the API (:8000) beside it.
airflow: setup
	$(BIN)/python scripts/airflow_local.py

## The same on the CeleryExecutor: private PostgreSQL and Redis on loopback, two workers.
airflow-celery: setup
	$(BIN)/python scripts/airflow_local.py --celery

## Lint, then every test tier (unit, DAG, end-to-end with real Prometheus/chdb/Airflow,
# the CeleryExecutor stack and the Airflow UI in Chromium).
# Two processes, a test file each at a time (a file's module fixtures are built once),
# the files that take minutes handed out first (tests/conftest.py).
test: setup lint
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

## Only the tests marked `celery` (the CeleryExecutor on PostgreSQL and Redis with two
# workers, one killed; the Airflow UI driven in Chromium), in one process: `make test`
# runs them too; this is for working on them.
test-celery: setup
	$(BIN)/pytest -m celery

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## PNGs of every dashboard page on the demo's data, for the README (docs/img/).
screenshots: setup
	$(BIN)/k8scost ui screenshots docs/img
