"""`k8scost tokens create --scope ... --role ...` and `tokens list` (click, in process)."""

from __future__ import annotations

import pytest

from api.query.tokenscope import TokenScope
from etl.core.tokens import digest
from etl.storage import registry, tokens
from tests.cli_runner import k8scost_in


@pytest.fixture
def k8scost(tmp_path, monkeypatch):
    db = registry.open_database(f"montydb://{tmp_path / 'mongo'}", "k8scost")
    return k8scost_in(tmp_path, monkeypatch), db


def test_a_scoped_token_is_stored_with_its_scopes_and_role_and_listed(k8scost):
    call, db = k8scost
    plain = call(
        "tokens", "create", "--organization-id", "o",
        "--scope", "namespace:web", "--scope", "namespace:api", "--scope", "label:team=pay",
        "--role", "editor",
    ).strip()  # fmt: skip
    whole = call("tokens", "create", "--organization-id", "o").strip()
    stored = tokens.lookup(db, "api_tokens", plain)
    assert plain not in str(stored)
    assert TokenScope.of_document(stored) == TokenScope(
        namespaces=("web", "api"), labels=(("team", "pay"),), role="editor"
    )
    assert TokenScope.of_document(tokens.lookup(db, "api_tokens", whole)) == TokenScope()
    header, *lines = call("tokens", "list", "--organization-id", "o").splitlines()
    rows = [line.split("\t") for line in lines]
    assert header.split("\t")[5:] == ["role", "scopes"]
    assert len(rows) == 2 and plain not in "".join(lines)
    assert {row[5] for row in rows} == {"editor", "admin"}
    scoped = next(row for row in rows if row[5] == "editor")
    assert scoped[0] == digest(plain)[:12]
    assert scoped[6].split() == ["namespace:web", "namespace:api", "label:team=pay"]
    assert next(row for row in rows if row[5] == "admin")[6] == "organization"
    call("tokens", "revoke", "--token", plain)
    states = [
        line.split("\t")[4]
        for line in call("tokens", "list", "--organization-id", "o").splitlines()[1:]
    ]
    assert sorted(states) == ["live", "revoked"]


@pytest.mark.parametrize(
    "args",
    [("--scope", "team:pay"), ("--scope", "label:team"), ("--role", "owner")],
)
def test_a_bad_scope_or_role_is_refused_and_nothing_stored(k8scost, args):
    call, db = k8scost
    output = call("tokens", "create", "--organization-id", "o", *args, ok=False)
    assert "scope" in output or "role" in output
    assert list(db.api_tokens.find()) == []
