"""Anomalies, budgets and their alerts, each alert naming what caused it (docs/alerts.md).

causes.py (contributors to a change, no I/O), anomalies.py (the day-vs-baseline
rule, no I/O), budgets.py (month-to-date and forecast), notify.py (webhook payloads,
signing, delivery with backoff), run.py (one evaluation after a day's load: what the
`k8s_cost_alerts` DAG and `k8scost alerts evaluate` call).
"""
