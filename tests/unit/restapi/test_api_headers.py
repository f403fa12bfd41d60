"""Security headers, the server limits in the OpenAPI document, and tokens that expire."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import pytest
from apiflask import APIFlask
from click.testing import CliRunner

from api import auth
from etl.core.days import day_start_epoch
from etl.core.http1 import ServerLimits
from etl.core.tokens import digest
from k8scost.cli import cli
from tests.api_data import URL, Api, day


@pytest.mark.parametrize("answer_format", ["json", "csv"])
def test_authenticated_answers_are_not_stored_nor_sniffed(
    api: Api, catalog_org: dict[str, float], answer_format: str
) -> None:
    query = {"start_date": 0, "end_date": day_start_epoch(day(1)), "format": answer_format}
    response = api.get("org-1", query)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    refused = api.client.get(URL.format(org="org-1"), query_string=query)
    assert refused.status_code == 401
    assert refused.headers["Cache-Control"] == "no-store"


def test_the_dashboard_has_a_content_security_policy_and_cannot_be_framed(app: APIFlask) -> None:
    page = app.test_client().get("/ui/")
    assert page.status_code == 200
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in page.headers["Content-Security-Policy"].split("; ")
    }
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in page.headers.get("Cache-Control", "")  # a public page


def test_the_openapi_document_lists_the_server_limits_and_their_answers(app: APIFlask) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["info"]["x-server-limits"] == asdict(ServerLimits())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "408", "413", "414", "431"):
                assert status in operation["responses"], (method, path, status)


def test_an_expired_token_is_a_401_and_an_unexpired_one_works(
    api: Api, catalog_org: dict[str, float], db: Any
) -> None:
    query = {"start_date": 0, "end_date": day_start_epoch(day(1))}
    lasting = auth.issue_token(db, "org-1", expires_in_s=3600)
    expiring = auth.issue_token(db, "org-1", expires_in_s=3600)
    db.api_tokens.update_one(
        {"_id": digest(expiring)}, {"$set": {"expires_at": int(time.time()) - 1}}
    )
    url = URL.format(org="org-1")
    ok = api.client.get(url, query_string=query, headers={"Authorization": f"Bearer {lasting}"})
    assert ok.status_code == 200
    expired = api.client.get(
        url, query_string=query, headers={"Authorization": f"Bearer {expiring}"}
    )
    assert expired.status_code == 401
    assert "expired" in expired.get_json()["detail"]


def test_tokens_create_with_expiry_and_tokens_list(tmp_path, monkeypatch, db: Any) -> None:
    monkeypatch.setenv("K8SCOST_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    before = int(time.time())
    created = runner.invoke(
        cli, ["tokens", "create", "--organization-id", "o", "--expires-in", "2d"]
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    forever = runner.invoke(cli, ["tokens", "create", "--organization-id", "p"]).output.strip()
    runner.invoke(cli, ["tokens", "revoke", "--token", forever])
    (document,) = [found for found in db.api_tokens.find({"organization_id": "o"})]
    assert before + 2 * 86400 <= document["expires_at"] <= int(time.time()) + 2 * 86400

    listed = runner.invoke(cli, ["tokens", "list"])
    assert listed.exit_code == 0, listed.output
    header, *rows = [line.split("\t") for line in listed.output.strip().splitlines()]
    assert header == ["id", "organization", "created", "expires", "state", "role", "scopes"]
    by_org = {row[1]: row for row in rows}
    assert by_org["o"][0] == digest(token)[:12]
    assert by_org["o"][3].endswith("Z") and by_org["o"][4] == "live"
    assert by_org["p"][3:] == ["never", "revoked", "admin", "organization"]
    assert token not in listed.output and forever not in listed.output
    only_o = runner.invoke(cli, ["tokens", "list", "--organization-id", "o"]).output
    assert len(only_o.strip().splitlines()) == 2

    db.api_tokens.update_one({"_id": document["_id"]}, {"$set": {"expires_at": before - 1}})
    assert runner.invoke(cli, ["tokens", "list"]).output.count("\texpired") == 1
    bad = runner.invoke(cli, ["tokens", "create", "--organization-id", "o", "--expires-in", "2w"])
    assert bad.exit_code == 2
    assert "not a duration" in bad.output
