"""`k8scost simulate-serve`: one simulated cluster's live metrics for a Prometheus to scrape
(devtools/simexporter.py serves them; the compose stack's demo cluster), and the
`--exporter` option it shares with `k8scost simulate`."""

from __future__ import annotations

import click

from devtools.simexporter import LiveCluster, make_server
from devtools.simulate.exporters import DEFAULT_EXPORTER, SHAPES

# `--exporter` of `simulate-serve` and `simulate`: the label shape to emit.
exporter_option = click.option(
    "--exporter",
    type=click.Choice(sorted(SHAPES)),
    default=DEFAULT_EXPORTER,
    show_default=True,
    help="Which exporter's label shape to emit (docs/exporters.md).",
)


@click.command("simulate-serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9105, show_default=True)
@click.option(
    "--cluster",
    "index",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which simulated cluster of the seed to expose (one exporter = one tenant).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@exporter_option
def simulate_serve(host: str, port: int, index: int, seed: int, exporter: str) -> None:
    """Expose one simulated cluster's live metrics at /metrics for a Prometheus to scrape."""
    server = make_server(LiveCluster(index, seed, exporter), host, port)
    click.echo(f"serving simulated cluster {index} (seed {seed}) at http://{host}:{port}/metrics")
    server.serve_forever()
