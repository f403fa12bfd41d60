#!/usr/bin/env bash
# Idempotent setup: Debian's prometheus (the PromQL engine standing in for Thanos
# Query, plus promtool for backfills), a virtualenv, and the project with its
# test and Airflow extras (the DAG tests and `make airflow` need Airflow; the API and
# proxy image installs without it). Safe to run on every `make demo` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "setup: installing Debian's prometheus package (prometheus + promtool)"
  apt_install prometheus
  # The package also starts a system-wide server on :9090; the project starts its own.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
  fi
fi

# Validates docker-compose.yaml offline in the tests (`docker-compose config`; no engine).
if ! command -v docker-compose >/dev/null; then
  echo "setup: installing Debian's docker-compose package"
  apt_install docker-compose
fi

# A real browser for the dashboard's tests (tests/browser/) and `k8scost ui screenshots`:
# Debian's chromium and its chromedriver, driven by selenium (no browser download).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "setup: installing Debian's chromium and chromium-driver packages"
  apt_install chromium chromium-driver
fi

# Airflow's metadata database and Celery broker for the CeleryExecutor stack
# (tests/celery_stack.py, `make airflow-celery`): each test starts a private server of
# each on a loopback port (devtools/localservers.py); the system's services stay off.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v redis-server >/dev/null; then
  echo "setup: installing Debian's postgresql and redis-server packages"
  apt_install postgresql redis-server
  if command -v systemctl >/dev/null; then
    $SUDO systemctl stop postgresql redis-server 2>/dev/null || true
  fi
fi

# The dashboard's chart library (api/routes/ui.py): plotly.js's finance bundle from the
# npm registry, at the version api/ui/chart/package-lock.json pins.
if ! command -v npm >/dev/null; then
  echo "setup: installing Debian's npm package"
  apt_install npm
fi
chart=api/ui/chart
if [ ! -d "$chart/node_modules" ] || [ "$chart/package-lock.json" -nt "$chart/node_modules" ]; then
  echo "setup: installing the dashboard's chart library (npm ci in $chart)"
  (cd "$chart" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  touch "$chart/node_modules"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the project and its dependencies into $VENV (about 2 minutes the first time)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[test,airflow]'
  touch "$stamp"
fi
