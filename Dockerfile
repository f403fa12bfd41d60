# The two images of the production stack (docker-compose.yaml), built from this one file;
# both install the project editable at /opt/k8scost (etl/storage/sqlfiles.py finds sql/
# next to the package, so the package stays where its sql/ is instead of being copied
# into site-packages).
#
#   target `k8scost`: the API, the remote-write proxy, the schema init and the simulator,
#     on Python's slim image, without Airflow (the project's base dependencies only).
#   target `airflow`: the Airflow components, from the official Airflow image of the
#     version the project is tested with, plus the project's `airflow` extra (the
#     providers the connection hooks use), installed without letting pip move Airflow.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11

# The dashboard's chart library, from the npm registry at the version the lock file pins
# (api/routes/ui.py serves it from api/ui/chart/node_modules).
FROM node:22-bookworm-slim AS chart
WORKDIR /chart
COPY api/ui/chart/package.json api/ui/chart/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:${PYTHON_VERSION}-slim-bookworm AS k8scost
# dumb-init: the services' init (compose entrypoint), so SIGTERM reaches k8scost;
# curl: their health checks.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dumb-init curl \
    && rm -rf /var/lib/apt/lists/*
# The Airflow image's unprivileged user (uid 50000, group root), so files in volumes the
# two images share stay writable by both. The simulator's write token lives in a named
# volume mounted at /var/lib/k8scost/tokens; a volume takes the owner of the directory it
# first covers, so this user can write into it.
RUN useradd --uid 50000 --gid 0 --create-home k8scost \
    && mkdir -p /var/lib/k8scost/tokens && chown -R 50000:0 /var/lib/k8scost
COPY --chown=50000:0 . /opt/k8scost
COPY --chown=50000:0 --from=chart /chart/node_modules /opt/k8scost/api/ui/chart/node_modules
RUN pip install --no-cache-dir -e /opt/k8scost
USER 50000
# A writable working directory: `.k8scost`, the default data directory, is relative to it.
WORKDIR /home/k8scost

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
ARG AIRFLOW_VERSION
COPY --chown=airflow:root . /opt/k8scost
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -e "/opt/k8scost[airflow]"

# Airflow reads the DAGs and plugins of this same copy: deploy/airflow/airflow.env points
# AIRFLOW__CORE__DAGS_FOLDER and AIRFLOW__CORE__PLUGINS_FOLDER into /opt/k8scost.
