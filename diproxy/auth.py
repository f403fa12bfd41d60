"""Which cluster is writing: a bearer token bound to one kubernetes_cnr account.

Only digests are stored (etl/storage/tokens.py, collection `cluster_tokens`); the plain token is
printed once by `k8scost accounts token ID`. The tenant is the token's account id and
never anything the request says, which closes the platform's hole where a cluster with
valid credentials could pick another tenant's label.
"""

from __future__ import annotations

from diproxy import Rejection
from etl.storage import registry, tokens
from etl.storage.registry import Database

COLLECTION = "cluster_tokens"
SUBJECT_FIELD = "cloud_account_id"


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Rejection(401, "missing bearer token (Authorization: Bearer <token>)")
    return token.strip()


def authenticate(db: Database, authorization: str | None) -> registry.ClusterAccount:
    """The live kubernetes_cnr account the request's token belongs to.

    401 for a missing, unknown or revoked token; 403 when the account was deleted.
    """
    found = tokens.lookup(db, COLLECTION, bearer_token(authorization))
    if found is None:
        raise Rejection(401, "invalid or revoked token")
    account = registry.account_document(db, found[SUBJECT_FIELD])
    if account is None or account.get("type") != registry.K8S_ACCOUNT_TYPE:
        raise Rejection(401, "token is not bound to a kubernetes_cnr account")
    if account.get("deleted_at", 0) != 0:
        raise Rejection(403, f"cloud account {account['_id']} is deleted")
    return registry.ClusterAccount.from_document(account)


def rotate_token(db: Database, account_id: str) -> tuple[str, int]:
    """Revoke the account's tokens, issue a new one: (plain token, how many were revoked)."""
    registry.k8s_accounts(db, [account_id])  # raises UnknownAccountError unless live k8s
    revoked = tokens.revoke(db, COLLECTION, SUBJECT_FIELD, account_id)
    return tokens.issue(db, COLLECTION, SUBJECT_FIELD, account_id), revoked
