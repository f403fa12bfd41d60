"""`make airflow-celery` (scripts/airflow_local.py --celery) stops on SIGTERM.

The script runs until its console prints the closing block (tests/local_stack.py); then
it gets SIGTERM, and 30 s later no process that it started (PostgreSQL, Redis, the
Celery workers and Airflow's parts among them), nor any task those started, may be
left. `make airflow` gets the same check at the end of the Airflow UI test
(tests/browser/test_airflow_ui.py), on the stack that test started.
"""

from __future__ import annotations

import pytest

from tests.local_stack import check_block_then_sigterm, local_stack

pytestmark = [pytest.mark.e2e, pytest.mark.celery]  # minutes: `make test` starts it first


def test_sigterm_stops_everything_the_celery_stack_started(tmp_path):
    with local_stack(tmp_path, ["--celery"]) as stack:
        check_block_then_sigterm(stack)
