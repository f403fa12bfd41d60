"""The raw archive on a local directory and on a real S3 API (moto's server on loopback).

The S3 case gives boto3 nothing but the standard AWS_* variables, so it also shows
that AWS_ENDPOINT_URL is honoured (no endpoint in Settings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import boto3
import pandas as pd
import pytest

from etl.core.config import Settings
from etl.worker import archive
from etl.worker.archive import ArchiveError
from tests.moto_s3 import moto_server, point_boto3_at

pytestmark = pytest.mark.e2e

DAY = date(2026, 6, 1)
TENANT = "tenant-a"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["file", "s3"])
def settings(request, tmp_path, monkeypatch) -> Settings:
    if request.param == "file":
        return Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path)})
    endpoint = request.getfixturevalue("s3_endpoint")
    point_boto3_at(monkeypatch, endpoint)
    bucket = f"raw-{tmp_path.name.lower().replace('_', '-')}"[:63]
    boto3.client("s3").create_bucket(Bucket=bucket)
    return Settings.from_env(
        {"K8SCOST_DATA_DIR": str(tmp_path), "RAW_ARCHIVE_URL": f"s3://{bucket}/k8s/raw"}
    )


def answers() -> dict[str, pd.DataFrame]:
    """Frames shaped like PromQL answers, one of them empty (a cluster without GPUs)."""
    return {
        "node_cpu_cores": pd.DataFrame({"node": ["n1", "n2"], "value": [4.0, 8.0]}),
        "node_gpu_count": pd.DataFrame({"node": pd.Series([], dtype=object), "value": []}).astype(
            {"value": "float64"}
        ),
        "network_egress_bytes": pd.DataFrame(
            {"internet": ["true"], "same_zone": ["false"], "same_region": ["false"], "value": [1e9]}
        ),
    }


def test_an_extract_reads_back_exactly_as_written(settings):
    written = answers()
    url = archive.write_extract(settings, TENANT, DAY, written, {"samples": 42}, "run-1")
    assert url.startswith(f"{settings.raw_archive_url}/tenant={TENANT}/date=2026-06-01/extract=")
    read = archive.read_extract(settings, url)
    assert list(read) == list(written)
    for name, frame in written.items():
        pd.testing.assert_frame_equal(read[name], frame)
    manifest = archive.verify_extract(settings, url, written)
    assert manifest["source"] == {"samples": 42} and manifest["run_id"] == "run-1"
    assert manifest["queries"]["node_cpu_cores"] == {"file": "node_cpu_cores.parquet", "rows": 2}


def test_the_published_extract_is_the_one_the_day_replays(settings):
    with pytest.raises(ArchiveError, match="no archived extract"):
        archive.current_extract(settings, TENANT, DAY)
    first = archive.write_extract(settings, TENANT, DAY, answers(), {}, "run-1")
    second = archive.write_extract(settings, TENANT, DAY, answers(), {}, "run-2")
    assert first != second  # two runs of one day never share files
    archive.publish(settings, second)
    assert archive.current_extract(settings, TENANT, DAY) == second
    archive.publish(settings, first)
    assert archive.current_extract(settings, TENANT, DAY) == first


def test_verification_refuses_an_extract_missing_a_query(settings):
    url = archive.write_extract(settings, TENANT, DAY, answers(), {}, "run-1")
    with pytest.raises(ArchiveError, match="lacks the queries pv_bytes"):
        archive.verify_extract(settings, url, [*answers(), "pv_bytes"])


def test_verification_refuses_files_that_do_not_match_the_manifest(settings):
    url = archive.write_extract(settings, TENANT, DAY, answers(), {}, "run-1")
    manifest = archive.read_manifest(settings, url)
    manifest["queries"]["node_cpu_cores"]["rows"] = 3
    store = archive._store(settings, url)
    store.put(archive.MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(ArchiveError, match="node_cpu_cores: 2 rows, manifest says 3"):
        archive.verify_extract(settings, url, answers())


def test_an_unfinished_extract_has_no_manifest(settings):
    url = f"{archive.day_url(settings, TENANT, DAY)}/extract=never-written"
    with pytest.raises(ArchiveError, match="does not exist"):
        archive.read_extract(settings, url)


def test_an_unknown_archive_scheme_is_refused(tmp_path):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path), "RAW_ARCHIVE_URL": "ftp://x"})
    with pytest.raises(ValueError, match="expected file"):
        archive.write_extract(settings, TENANT, DAY, answers(), {}, "run-1")
