"""`k8scost tokens create|revoke`: the organizations' API tokens (api/auth.py)."""

from __future__ import annotations

import click

from api import auth
from etl.core.config import Settings
from etl.storage.registry import open_database


@click.group("tokens")
def tokens_command() -> None:
    """API tokens: each is bound to one organization; only its hash is stored."""


@tokens_command.command("create")
@click.option("--organization-id", required=True)
@click.pass_obj
def create(settings: Settings, organization_id: str) -> None:
    """Print a new API token for the organization (shown once, keep it)."""
    click.echo(
        auth.issue_token(open_database(settings.mongo_uri, settings.mongo_db), organization_id)
    )


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
