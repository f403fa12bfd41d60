"""What the rollups' property tests (tests/unit/test_*_rollup.py) share.

Their examples are histories of restatements on one embedded ClickHouse kept for the
module: slow per example (a few hundred queries, each planned from large views), and
drawn the same on every run and machine, so that a failure is found again by the next
run. So each draws a share of the profile's examples (tests/conftest.py): a few under
`suite`, four times as many under `thorough`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, settings

from etl.storage.clickhouse import connect


def history_settings(share: float) -> settings:
    """Hypothesis' settings for `share` of the profile's examples, derandomized, without
    deadline."""
    return settings(
        max_examples=max(1, round(settings.default.max_examples * share)),
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def replay(
    history: Sequence[tuple], read: Callable[[tuple], None], write: Callable[[tuple], None]
) -> None:
    """Run a drawn history in order: its ("read", ...) steps through `read`, the
    restatements through `write`."""
    for step in history:
        (read if step[0] == "read" else write)(step)


@contextmanager
def alternating_writers(client: Client) -> Iterator[Iterator[Client]]:
    """The clients a history's restatements go through, in turn: another connection to
    `client`'s database first (what another API process or the DAG's workers are to
    the reader, with a freshness gate of its own: etl/storage/rollupgate.py), then the
    reader's own client."""
    with connect(client.uri) as other:
        yield itertools.cycle([other, client])


def replay_reads(
    client: Client,
    history: Sequence[tuple],
    check: Callable[[dict], None],
    restate: Callable[[Client, tuple], None],
    final_reads: Sequence[dict] = (),
) -> None:
    """Run a drawn history of ("read", arguments) steps and restatements: each read's
    arguments through `check`, each restatement through `restate` with the next of
    `alternating_writers`; then every read again, and `final_reads`, on the data as
    the history left it: a day computed before a restatement must have been computed
    again."""
    with alternating_writers(client) as writers:
        replay(history, lambda step: check(step[1]), lambda step: restate(next(writers), step))
    for arguments in [step[1] for step in history if step[0] == "read"] + list(final_reads):
        check(arguments)
