# One image for every k8scost process of the production stack (docker-compose.yaml):
# the Airflow components, the API, the remote-write proxy and the simulator. It starts
# from the official Airflow image of the version the project is tested with, and
# installs the project beside it without letting pip move Airflow itself.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
USER root
# The simulator's write token lives in a named volume mounted here; a volume takes the
# owner of the directory it first covers, so the airflow user can write into it.
RUN mkdir -p /var/lib/k8scost/tokens && chown -R airflow:root /var/lib/k8scost
USER airflow

# Editable install: etl/storage/sqlfiles.py finds sql/ next to the package, so the package
# stays where its sql/ is (/opt/k8scost) instead of being copied into site-packages.
COPY --chown=airflow:root . /opt/k8scost
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -e /opt/k8scost

# Airflow reads the DAGs and plugins of this same copy: deploy/airflow/airflow.env points
# AIRFLOW__CORE__DAGS_FOLDER and AIRFLOW__CORE__PLUGINS_FOLDER into /opt/k8scost.
