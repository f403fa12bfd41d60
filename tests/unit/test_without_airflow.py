"""pyproject.toml: Airflow is the `airflow` extra, and nothing but dags/, plugins/ and the
Airflow tests needs it, so the API and proxy image (Dockerfile target `k8scost`)
installs and runs without it; scripts/setup.sh still installs everything for the two
commands."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("etl", "api", "diproxy", "k8scost", "devtools")
# Every module of the installed packages, imported with `airflow` made unimportable.
IMPORT_ALL_WITHOUT_AIRFLOW = f"""
import importlib, pkgutil, sys

class NoAirflow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "airflow":
            raise ModuleNotFoundError(f"{{name}}: Airflow is not installed")

sys.meta_path.insert(0, NoAirflow())
for package in {PACKAGES!r}:
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(module.name)
assert not [name for name in sys.modules if name.split(".")[0] == "airflow"]
"""


def test_airflow_and_its_providers_are_the_airflow_extra_only() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [req for req in project["dependencies"] if "airflow" in req]
    extra = project["optional-dependencies"]["airflow"]
    assert {req.split(">")[0] for req in extra} == {
        "apache-airflow",
        "apache-airflow-providers-amazon",
        "apache-airflow-providers-clickhousedb",
        "apache-airflow-providers-mongo",
        # The CeleryExecutor on Redis and PostgreSQL (tests/celery_stack.py).
        "apache-airflow-providers-celery[redis]",
        "celery",
        "apache-airflow-providers-postgres",
    }
    assert "pip\" install -q -e '.[test,airflow]'" in (REPO / "scripts/setup.sh").read_text()


def test_every_module_of_the_packages_imports_without_airflow() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL_WITHOUT_AIRFLOW],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
