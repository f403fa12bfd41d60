"""`k8scost sharing set|show --organization-id ORG`: an organization's sharing defaults.

The defaults every `k8s_costs` and `clean_expenses` request of the organization
starts from (etl/storage/sharing.py). The options are etl/core/sharing.py's
`OPTIONS`, with the API's names as flags; `set` changes only the options given
(`--reset` starts from sharing nothing); lists are comma-separated,
`--share-namespaces ''` shares none. Both print the stored defaults as JSON. A value
the policy refuses is `error: ...`, exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from etl.core.config import Settings
from etl.core.sharing import CHOICE, LIST, NUMBER, OPTIONS, SharingOption, SharingPolicy
from etl.storage import registry
from etl.storage.sharing import set_sharing_defaults, sharing_defaults


def _echo(policy: SharingPolicy) -> None:
    click.echo(json.dumps(policy.document(), sort_keys=True))


@click.group("sharing")
def sharing_command() -> None:
    """Per-organization defaults of shared costs (idle, namespaces, overhead)."""


def _option(option: SharingOption) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One sharing option as a click option; an amount out of bounds is the policy's
    error (exit 1), as a stored or requested one is."""
    flag = "--" + option.name.replace("_", "-")
    if option.kind == CHOICE:
        return click.option(flag, type=click.Choice(option.choices), help=option.description)
    if option.kind == LIST:
        return click.option(flag, help=f"{option.description}; '' for none.")
    assert option.kind == NUMBER
    return click.option(flag, type=float, help=option.description)


def sharing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The sharing options as click options (also `k8scost reports add`'s)."""
    for option in reversed(OPTIONS):
        command = _option(option)(command)
    return command


@sharing_command.command("set")
@click.option("--organization-id", required=True)
@sharing_options
@click.option("--reset", is_flag=True, help="Start from sharing nothing, not the current ones.")
@click.pass_obj
def sharing_set(settings: Settings, organization_id: str, reset: bool, **options: Any) -> None:
    """Store the organization's sharing defaults (only the options given change)."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    _echo(set_sharing_defaults(database, organization_id, options, reset=reset))


@sharing_command.command("show")
@click.option("--organization-id", required=True)
@click.pass_obj
def sharing_show(settings: Settings, organization_id: str) -> None:
    """Print the organization's sharing defaults."""
    database = registry.open_database(settings.mongo_uri, settings.mongo_db)
    _echo(sharing_defaults(database, organization_id))
