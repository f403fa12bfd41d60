"""`k8scost tokens create|list|revoke`: the organizations' API tokens (api/auth.py), with
their scopes and roles (api/query/tokenscope.py) and optional expiry.

The command line only: issuing, listing and revoking are api/auth.py's functions."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import click

from api import auth
from api.query.tokenscope import DEFAULT_ROLE, ROLES, SCOPE_SYNTAX, ScopeError, TokenScope
from etl.core.config import Settings
from etl.core.tokens import is_expired
from etl.storage.registry import open_database

DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A token is listed by the start of its digest: enough to tell tokens apart, useless to log in.
LISTED_DIGEST_CHARS = 12


class Duration(click.ParamType):
    """A positive whole number of seconds, minutes, hours or days: 90s, 30m, 12h, 30d."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        found = re.fullmatch(r"([1-9][0-9]*)([smhd])", str(value).strip())
        if found is None:
            self.fail(f"{value!r} is not a duration like 90s, 30m, 12h or 30d", param, ctx)
        return int(found[1]) * DURATION_UNITS_S[found[2]]


@click.group("tokens")
def tokens_command() -> None:
    """API tokens: each is bound to one organization; only its hash is stored."""


@tokens_command.command("create")
@click.option("--organization-id", required=True)
@click.option("--expires-in", type=Duration(), help="Stop working after this long: 30d, 12h...")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help=f"Narrow the token (repeatable; one kind: union, kinds: intersection): {SCOPE_SYNTAX}.",
)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=DEFAULT_ROLE,
    show_default=True,
    help="viewer reads; editor also writes budgets in scope; admin also the rest.",
)
@click.pass_obj
def create(
    settings: Settings,
    organization_id: str,
    expires_in: int | None,
    scopes: tuple[str, ...],
    role: str,
) -> None:
    """Print a new API token for the organization (shown once, keep it)."""
    try:
        scope = TokenScope.parse(scopes, role)
    except ScopeError as error:
        raise click.BadParameter(str(error), param_hint="--scope") from None
    db = open_database(settings.mongo_uri, settings.mongo_db)
    click.echo(auth.issue_token(db, organization_id, scope, expires_in))


@tokens_command.command("list")
@click.option("--organization-id", help="Only this organization's tokens.")
@click.pass_obj
def list_command(settings: Settings, organization_id: str | None) -> None:
    """List tokens (never the tokens themselves): id, organization, created, expires,
    state, role, scopes (tab-separated, a header first)."""
    db = open_database(settings.mongo_uri, settings.mongo_db)
    now = time.time()
    click.echo("id\torganization\tcreated\texpires\tstate\trole\tscopes")
    for found in auth.list_tokens(db, organization_id):
        expires_at = found.get("expires_at", 0)
        scope = TokenScope.of_document(found)
        columns = [
            found["_id"][:LISTED_DIGEST_CHARS],
            found[auth.SUBJECT_FIELD],
            _utc(found["created_at"]),
            _utc(expires_at) if expires_at else "never",
            _state(found, now),
            scope.role,
            " ".join(scope.texts()) or "organization",
        ]
        click.echo("\t".join(columns))


def _utc(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(found: dict[str, Any], now: float) -> str:
    if found.get("revoked_at", 0):
        return "revoked"
    return "expired" if is_expired(found, now) else "live"


@tokens_command.command("revoke")
@click.option("--organization-id", help="Revoke every token of this organization.")
@click.option("--token", help="Revoke this one token.")
@click.pass_obj
def revoke(settings: Settings, organization_id: str | None, token: str | None) -> None:
    """Revoke one token, or all the tokens of an organization; prints how many."""
    if (organization_id is None) == (token is None):
        raise click.UsageError("give exactly one of --organization-id and --token")
    db = open_database(settings.mongo_uri, settings.mongo_db)
    if token is not None:
        revoked = int(auth.revoke_token(db, token))
    else:
        revoked = auth.revoke_organization_tokens(db, organization_id)
    click.echo(f"revoked {revoked} token(s)")
