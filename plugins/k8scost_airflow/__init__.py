"""Airflow-side pieces of k8scost: connection hooks and the DAGs' shared policy.

This folder is Airflow's plugins folder, which Airflow puts on `sys.path`, so the
DAG files import `k8scost_airflow.*`; the pipeline itself (`etl`) knows nothing
of Airflow.
"""
