"""`k8scost sharing set|show --organization-id ORG`: an organization's sharing defaults.

The defaults every `k8s_costs` and `clean_expenses` request of the organization
starts from (etl/storage/sharing.py; the options are etl/core/sharing.py's, with the
API's names). `set` changes only the options given (`--reset` starts from sharing
nothing); lists are comma-separated, `--share-namespaces ''` shares none. Both print
the stored defaults as JSON. A value the policy refuses is `error: ...`, exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from etl.core.config import Settings
from etl.core.sharing import IDLE_BY, SHARE_IDLE, SHARE_SPLIT, SharingPolicy
from etl.storage import registry
from etl.storage.sharing import set_sharing_defaults, sharing_defaults


def _echo(policy: SharingPolicy) -> None:
    click.echo(json.dumps(policy.document(), sort_keys=True))


@click.group("sharing")
def sharing_command() -> None:
    """Per-organization defaults of shared costs (idle, namespaces, overhead)."""


def sharing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The sharing options as click options (also `k8scost reports add`'s)."""
    for option in reversed(
        (
            click.option("--share-idle", type=click.Choice(SHARE_IDLE)),
            click.option("--idle-by", type=click.Choice(IDLE_BY)),
            click.option(
                "--share-namespaces", help="Comma-separated namespaces to spread ('' for none)."
            ),
            click.option(
                "--share-labels", help="Comma-separated key:value labels to spread ('' for none)."
            ),
            click.option("--share-split", type=click.Choice(SHARE_SPLIT)),
            click.option(
                "--shared-overhead-hourly", type=float, help="USD per cluster-hour (>= 0)."
            ),
        )
    ):
        command = option(command)
    return command


def given_options(options: dict[str, Any]) -> dict[str, Any]:
    """The sharing options given on the command line (the others keep their value)."""
    return {name: value for name, value in options.items() if value is not None}


@sharing_command.command("set")
@click.option("--organization-id", required=True)
@sharing_options
@click.option("--reset", is_flag=True, help="Start from sharing nothing, not the current ones.")
@click.pass_obj
def sharing_set(settings: Settings, organization_id: str, reset: bool, **options: Any) -> None:
    """Store the organization's sharing defaults (only the options given change)."""
    given = given_options(options)
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    _echo(set_sharing_defaults(database, organization_id, given, reset=reset))


@sharing_command.command("show")
@click.option("--organization-id", required=True)
@click.pass_obj
def sharing_show(settings: Settings, organization_id: str) -> None:
    """Print the organization's sharing defaults."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    _echo(sharing_defaults(database, organization_id))
