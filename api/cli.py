"""`k8scost tokens create|list|revoke`: the organizations' API tokens (api/auth.py), with
their scopes and roles (api/query/tokenscope.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from api import auth
from api.query.tokenscope import DEFAULT_ROLE, ROLES, SCOPE_SYNTAX, ScopeError, TokenScope
from etl.core.config import Settings
from etl.storage.registry import open_database


@click.group("tokens")
def tokens_command() -> None:
    """API tokens: each is bound to one organization; only its hash is stored."""


@tokens_command.command("create")
@click.option("--organization-id", required=True)
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
def create(settings: Settings, organization_id: str, scopes: tuple[str, ...], role: str) -> None:
    """Print a new API token for the organization (shown once, keep it)."""
    try:
        scope = TokenScope.parse(scopes, role)
    except ScopeError as error:
        raise click.BadParameter(str(error), param_hint="--scope") from None
    click.echo(
        auth.issue_token(
            open_database(settings.mongo_uri, settings.mongo_db), organization_id, scope
        )
    )


@tokens_command.command("list")
@click.option("--organization-id", required=True)
@click.pass_obj
def list_command(settings: Settings, organization_id: str) -> None:
    """The organization's live tokens: digest prefix, created (UTC), role, scopes."""
    db = open_database(settings.mongo_uri, settings.mongo_db)
    for token in auth.list_tokens(db, organization_id):
        created = datetime.fromtimestamp(token["created_at"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        scopes = " ".join(token["scopes"]) or "organization"
        click.echo(f"{token['digest'][:12]}  {created}  {token['role']:<6}  {scopes}")


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
