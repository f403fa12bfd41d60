"""The raw archive on a local directory and on a real S3 API (moto's server on loopback).

The S3 case gives boto3 nothing but the standard AWS_* variables, so it also shows
that AWS_ENDPOINT_URL is honoured (no endpoint in Settings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import boto3
import numpy as np
import pytest

from etl.core.config import Settings
from etl.metroculus.extract import CONTRACT_VERSION
from etl.metroculus.promql import Sample, Series
from etl.metroculus.queries import FAMILY, PART
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


def rounds() -> dict[str, list]:
    """Raw answers shaped like Thanos': a vector, a matrix, and an empty answer (a cluster
    without GPUs)."""
    return {
        "node_summary": [
            Sample({"node": "n1", PART: "count", FAMILY: "node_cpu_hourly_cost"}, 1440.0),
            Sample({"node": "n2", PART: "end", FAMILY: "node_cpu_hourly_cost"}, 0.031),
        ],
        "small_family_samples": [
            Series(
                {"__name__": "pv_hourly_cost", "persistentvolume": "pv-1"},
                np.array([1780272000.0, 1780272060.5]),
                np.array([0.0001, 0.00011]),
            )
        ],
        "container_gpu_allocation": [],
    }


def write(settings: Settings, run_id: str = "run-1", source: dict | None = None) -> str:
    return archive.write_extract(settings, TENANT, DAY, rounds(), source or {}, run_id)


def test_an_extract_reads_back_exactly_as_written(settings):
    written = rounds()
    url = write(settings, source={"samples": 42})
    assert url.startswith(f"{settings.raw_archive_url}/tenant={TENANT}/date=2026-06-01/extract=")
    read = archive.read_extract(settings, url)
    assert list(read) == list(written)
    assert read["node_summary"] == written["node_summary"]
    assert read["container_gpu_allocation"] == []
    (series,) = read["small_family_samples"]
    (expected,) = written["small_family_samples"]
    assert series.labels == expected.labels
    assert list(series.times) == list(expected.times)
    assert list(series.values) == list(expected.values)
    manifest = archive.verify_extract(settings, url, written)
    assert manifest["source"] == {"samples": 42} and manifest["run_id"] == "run-1"
    assert manifest["contract_version"] == CONTRACT_VERSION
    entry = manifest["queries"]["node_summary"]
    assert (entry["file"], entry["kind"], entry["rows"]) == ("node_summary.parquet", "vector", 2)
    assert manifest["queries"]["small_family_samples"]["kind"] == "matrix"


def test_the_published_extract_is_the_one_the_day_replays(settings):
    with pytest.raises(ArchiveError, match="no archived extract"):
        archive.current_extract(settings, TENANT, DAY)
    first = write(settings, "run-1")
    second = write(settings, "run-2")
    assert first != second  # two runs of one day never share files
    archive.publish(settings, second)
    assert archive.current_extract(settings, TENANT, DAY) == second
    archive.publish(settings, first)
    assert archive.current_extract(settings, TENANT, DAY) == first


def test_verification_refuses_an_extract_missing_a_query(settings):
    url = write(settings)
    with pytest.raises(ArchiveError, match="lacks the queries pod_labels"):
        archive.verify_extract(settings, url, [*rounds(), "pod_labels"])


def test_verification_refuses_a_file_whose_size_is_not_the_manifests(settings):
    url = write(settings)
    manifest = archive.read_manifest(settings, url)
    written = manifest["queries"]["node_summary"]["bytes"]
    manifest["queries"]["node_summary"]["bytes"] = written + 1
    archive._store(settings, url).put(archive.MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(
        ArchiveError,
        match=f"node_summary.parquet: {written} bytes, manifest says {written + 1}",
    ):
        archive.verify_extract(settings, url, rounds())


def test_a_file_changed_after_it_was_written_is_refused_when_read(settings):
    """Same size, other bytes: the verification (sizes only) passes, the load's read
    (hashes) refuses it, naming the file."""
    url = write(settings)
    store = archive._store(settings, url)
    data = bytearray(store.get("node_summary.parquet"))
    data[len(data) // 2] ^= 0xFF
    store.put("node_summary.parquet", bytes(data))
    archive.verify_extract(settings, url, rounds())
    with pytest.raises(ArchiveError, match=r"node_summary.parquet .* is not the file written"):
        archive.read_extract(settings, url)


def test_an_extract_of_another_contract_version_is_refused_naming_both(settings):
    url = write(settings)
    manifest = archive.read_manifest(settings, url)
    del manifest["contract_version"]  # as every extract written before versions
    archive._store(settings, url).put(archive.MANIFEST, json.dumps(manifest).encode())
    message = f"contract version 1, and this k8scost reads contract version {CONTRACT_VERSION}"
    with pytest.raises(ArchiveError, match=message):
        archive.read_extract(settings, url)
    with pytest.raises(ArchiveError, match=message):
        archive.verify_extract(settings, url, rounds())


def test_an_unfinished_extract_has_no_manifest(settings):
    url = f"{archive.day_url(settings, TENANT, DAY)}/extract=never-written"
    with pytest.raises(ArchiveError, match="does not exist"):
        archive.read_extract(settings, url)


def test_an_unknown_archive_scheme_is_refused(tmp_path):
    settings = Settings.from_env({"K8SCOST_DATA_DIR": str(tmp_path), "RAW_ARCHIVE_URL": "ftp://x"})
    with pytest.raises(ValueError, match="expected file"):
        write(settings)
