"""Tokens on the embedded MongoDB stand-in: only digests stored, revocation works."""

from __future__ import annotations

import pytest

from etl.core.tokens import digest
from etl.storage import registry, tokens


@pytest.fixture
def db(tmp_path):
    return registry.open_database(f"montydb://{tmp_path / 'mongo'}", "k8scost")


def test_only_the_digest_is_stored_and_the_token_resolves_to_its_subject(db):
    token = tokens.issue(db, "api_tokens", "organization_id", "org-1")
    (stored,) = list(db.api_tokens.find())
    assert token not in str(stored)
    assert stored["_id"] == digest(token)
    assert tokens.lookup(db, "api_tokens", token)["organization_id"] == "org-1"


def test_unknown_and_revoked_tokens_resolve_to_nothing(db):
    first = tokens.issue(db, "api_tokens", "organization_id", "org-1")
    second = tokens.issue(db, "api_tokens", "organization_id", "org-1")
    other = tokens.issue(db, "api_tokens", "organization_id", "org-2")
    assert tokens.lookup(db, "api_tokens", "k8c_not-a-token") is None
    assert tokens.revoke(db, "api_tokens", "organization_id", "org-1") == 2
    assert tokens.lookup(db, "api_tokens", first) is None
    assert tokens.lookup(db, "api_tokens", second) is None
    assert tokens.lookup(db, "api_tokens", other)["organization_id"] == "org-2"
