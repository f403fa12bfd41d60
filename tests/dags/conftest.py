"""An isolated Airflow for the DAG tests: its own AIRFLOW_HOME and SQLite metadata DB.

The variables are set when this file is imported, before anything imports
airflow, because Airflow reads its configuration once at import time (so no
test module may import this file again: that would make a second home).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="k8scost-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database (about 3 s)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
    return AIRFLOW_HOME
