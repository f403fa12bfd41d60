"""Bearer tokens bound to one organization, checked for every route of the app.

The check is a `before_request` hook rather than a decorator per view, so a
blueprint added later is protected without doing anything; only the endpoints in
`PUBLIC_ENDPOINTS` (probes, the OpenAPI document and its page) are open. A route
with an `<organization_id>` answers 403 to a token of another organization
before its view runs, so no handler can leak another organization's data.
Tokens are stored as digests only (etl/storage/tokens.py, collection `api_tokens`), with
their scopes and role (api/query/tokenscope.py): the hook leaves the token's scope in
`g.token_scope` for the queries (api/context.py `token_scope`) and refuses a write to a
token below the role it needs (`editor`, or what its view names) with a 403 naming it.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask, HTTPError
from flask import current_app, g, request

from api.context import mongodb
from api.query.tokenscope import ROLE_ATTRIBUTE, WRITE_ROLE, TokenScope
from etl.storage import tokens
from etl.storage.registry import Database

COLLECTION = "api_tokens"
SUBJECT_FIELD = "organization_id"
SCHEME_NAME = "BearerToken"
PUBLIC_ENDPOINTS = frozenset(
    {"health.livez", "health.readyz", "openapi.spec", "docs.page", "static"}
    # The dashboard's page, script, style and chart library (api/routes/ui.py): no data.
    | {"ui_root.home", "ui.page", "ui.static", "ui.plotly"}
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="k8scost"'}
# Reads need any role; a write needs an editor, or the role its view names with
# `needs_role` (api/query/tokenscope.py: the roles).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def issue_token(
    db: Database,
    organization_id: str,
    scope: TokenScope | None = None,
    expires_in_s: int | None = None,
) -> str:
    """A new API token for the organization (the plain token is returned once), narrowed
    to `scope`'s clusters, namespaces and labels with its role (None: the whole
    organization, admin); with `expires_in_s`, it stops working that long from now."""
    return tokens.issue(
        db,
        COLLECTION,
        SUBJECT_FIELD,
        organization_id,
        expires_in_s,
        **(scope or TokenScope()).document(),
    )


def list_tokens(db: Database, organization_id: str | None = None) -> list[dict[str, Any]]:
    """The token documents of one organization, or of all, oldest first."""
    return tokens.listing(db, COLLECTION, SUBJECT_FIELD, organization_id)


def revoke_organization_tokens(db: Database, organization_id: str) -> int:
    """Revoke every live token of the organization; how many were revoked."""
    return tokens.revoke(db, COLLECTION, SUBJECT_FIELD, organization_id)


def revoke_token(db: Database, token: str) -> bool:
    """Revoke one token given in plain; False when it was unknown or already revoked."""
    found = tokens.lookup(db, COLLECTION, token)
    if found is None:
        return False
    tokens.revoke_document(db, COLLECTION, found["_id"])
    return True


def _presented_token() -> str:
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise HTTPError(
            401, detail="missing bearer token (Authorization: Bearer <token>)", headers=CHALLENGE
        )
    return credentials.token


def _authenticate() -> None:
    """before_request: 401 without a live token, 403 for another organization's route."""
    if request.routing_exception is not None or request.endpoint in PUBLIC_ENDPOINTS:
        return  # unknown routes get their 404/405; open endpoints need no token
    found = tokens.lookup(mongodb(), COLLECTION, _presented_token())
    if found is None:
        raise HTTPError(401, detail="invalid, revoked or expired token", headers=CHALLENGE)
    g.organization_id = found[SUBJECT_FIELD]
    wanted = (request.view_args or {}).get("organization_id")
    if wanted is not None and wanted != g.organization_id:
        raise HTTPError(403, detail=f"the token does not grant access to organization {wanted}")
    g.token_scope = TokenScope.of_document(found)
    if request.method in READ_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint)
    needed = getattr(view, ROLE_ATTRIBUTE, WRITE_ROLE)
    if not g.token_scope.allows(needed):
        raise HTTPError(
            403,
            detail=f"this write needs the {needed} role; the token is a {g.token_scope.role}",
            extra_data={"errors": {"role": [f"needs {needed}"]}},
        )


def document_security(spec: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme app-wide, open endpoints excepted, with 401/403 answers."""
    spec.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME_NAME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An organization token from `k8scost tokens create`",
    }
    spec["security"] = [{SCHEME_NAME: []}]
    problem = {"$ref": "#/components/schemas/ProblemSchema"}
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if _is_public_path(path):
                operation["security"] = []
                continue
            responses = operation.setdefault("responses", {})
            for status, text in (("401", "No valid token"), ("403", "Another organization")):
                responses.setdefault(
                    status,
                    {"description": text, "content": {"application/json": {"schema": problem}}},
                )
    return spec


def _is_public_path(path: str) -> bool:
    return path in {"/livez", "/readyz"}


def protect(app: APIFlask) -> None:
    """Require a token on every route of `app` except the public endpoints.

    The OpenAPI side (`document_security`) is applied by the app's one spec processor.
    """
    app.before_request(_authenticate)
