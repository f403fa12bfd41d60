"""Render a scenario as the OpenMetrics text `promtool tsdb create-blocks-from openmetrics` reads.

The output is what a cluster's Prometheus would hold after remote-writing into Thanos:
the OpenCost metric contract (docs: kubecost-metrics.md) plus the kube-state-metrics
style series, every series labelled with its cluster's `tenant_id`. Families are
written one after the other (OpenMetrics requires a family's series to be contiguous),
each series' samples in increasing time order, streamed so memory stays flat.
`container_gpu_allocation` and the GPU request series exist only for containers that
request GPUs, and network counters only for the egress classes a pod actually uses.

The pitfalls a cluster may carry are rendered here too: its `gaps` drop every sample
inside them, each of its HA `replicas` writes every series (label `prometheus_replica`),
each of its `emitters` writes every `kube_*` series (label `job`), and a network-costs
restart (`network_resets`) restarts the counters of the pods on that node. A pod's
kube-state-metrics series last until it is deleted, reporting it not running (0) after
it completed; a node that is not `priced` has no price series.

Which labels each family carries, and under which name, is the scenario's `exporter`
shape (exporters.py): series are built here with every label a shape may keep.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from devtools.simulate.exporters import DEFAULT_EXPORTER, Family, Shape, shape_named
from devtools.simulate.families import FAMILIES
from devtools.simulate.series import Series, SeriesOf


def write_openmetrics(
    scenario: dict[str, Any], path: Path, window: tuple[int, int] | None = None
) -> int:
    """Write every series of `scenario` to `path`; returns the number of samples.

    With `window` (epoch seconds, [from, to)), only the samples inside it: a large
    scenario is backfilled a few hours at a time, since promtool holds a whole input
    file's samples in memory to cut its block (docs/allocation.md#benchmark)."""
    step = scenario["scrape_interval_s"]
    lo, hi = window or (scenario["start"], scenario["end"])
    window = (max(lo, scenario["start"]), min(hi, scenario["end"]))
    shape = shape_named(scenario.get("exporter", DEFAULT_EXPORTER))
    # emitted name -> contract family (KSM v2's capacity: either one, scraped alike)
    contract = {spec.name: name for name, spec in shape.families.items()}
    written = 0
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        for family, kind, series_of, first in shaped_families(shape):
            if first:
                out.write(f"# TYPE {family} {kind}\n")
            sample_name = f"{family}_total" if kind == "counter" else family
            for cluster in scenario["clusters"]:
                gaps = [tuple(gap) for gap in cluster.get("gaps", [])]
                for copy_labels in _copies(cluster, family):
                    for series in series_of(cluster):
                        stored = {**copy_labels, **shape.stored(contract[family], series.labels)}
                        stored.update(copy_labels)  # an emitter copy's job over the scrape's
                        labels = _label_text(stored)
                        head = f"{sample_name}{{{labels}}} "
                        written += _write_samples(out, head, series, window, step, gaps)
        out.write("# EOF\n")
    return written


def shaped_families(shape: Shape) -> Iterator[tuple[str, str, SeriesOf, bool]]:
    """(emitted name, type, series with the shape's labels, first of its name) per family.

    Two contract families may share an emitted name (KSM v2's `kube_node_status_capacity`);
    they are adjacent in FAMILIES, so the name's series stay contiguous under one TYPE.
    """
    previous = None
    for family, kind, series_of in FAMILIES:
        spec = shape.families[family]
        yield spec.name, kind, _relabelled(series_of, spec), spec.name != previous
        previous = spec.name


def _relabelled(series_of: SeriesOf, spec: Family) -> SeriesOf:
    def series(cluster: dict[str, Any]) -> Iterator[Series]:
        for one in series_of(cluster):
            yield replace(one, labels=spec.apply(one.labels))

    return series


def _copies(cluster: dict[str, Any], family: str) -> list[dict[str, str]]:
    """The labels telling apart the copies of one series: HA replicas and kube_* emitters."""
    copies = [{"tenant_id": cluster["tenant_id"]}]
    if family.startswith("kube_") and cluster.get("emitters"):
        copies = [{**labels, "job": job} for labels in copies for job in cluster["emitters"]]
    if cluster.get("replicas"):
        copies = [
            {**labels, "prometheus_replica": replica}
            for labels in copies
            for replica in cluster["replicas"]
        ]
    return copies


def _ticks(start: int, end: int, step: int, gaps: Sequence[tuple[int, int]]) -> range | list[int]:
    """Ticks t = k*step with start <= t < end, outside every gap [from, to)."""
    ticks = range(_ceil_tick(start, step), end, step)
    if not gaps:
        return ticks
    return [t for t in ticks if not any(lo <= t < hi for lo, hi in gaps)]


def _write_samples(
    out: IO[str],
    head: str,
    series: Series,
    window: tuple[int, int],
    step: int,
    gaps: Sequence[tuple[int, int]] = (),
) -> int:
    """Samples at ticks t = k*step with start <= t < end inside the window, outside gaps."""
    first = max(series.start, window[0])
    last = min(series.end, window[1])
    if series.rate is not None:
        ticks = _ticks(first, last, step, gaps)
        out.write("".join(_counter_lines(head, series, ticks)))
        return len(ticks)
    if series.rates:
        ticks = _ticks(first, last, step, gaps)
        out.write("".join(_piecewise_counter_lines(head, series, ticks)))
        return len(ticks)
    written = 0
    untils = [at for at, _ in series.pieces[1:]] + [last]
    for (at, value), until in zip(series.pieces, untils, strict=True):
        ticks = _ticks(max(first, at), min(last, until), step, gaps)
        prefix = f"{head}{_number(value)} "
        out.write("".join([f"{prefix}{t}\n" for t in ticks]))
        written += len(ticks)
    return written


def _counter_lines(head: str, series: Series, ticks: range | list[int]) -> list[str]:
    """`rate * (t - origin)` per tick; integers stay integers (the common, fast case)."""
    rate = _number(series.rate)
    show = str if isinstance(rate, int) else lambda value: str(_number(value))
    if not series.resets:
        origin = series.start
        return [f"{head}{show(rate * (t - origin))} {t}\n" for t in ticks]
    lines, origin, upcoming = [], series.start, sorted(series.resets)
    for t in ticks:
        while upcoming and upcoming[0] < t:
            origin = upcoming.pop(0)
        lines.append(f"{head}{show(rate * (t - origin))} {t}\n")
    return lines


def _piecewise_counter_lines(head: str, series: Series, ticks: range | list[int]) -> list[str]:
    """The integral of a piecewise-constant rate from `start`, per tick."""
    lines, total, at, rate, pieces = [], 0.0, series.start, 0.0, list(series.rates)
    for t in ticks:
        while pieces and pieces[0][0] <= t:
            change, new_rate = pieces.pop(0)
            total += rate * (change - at)
            at, rate = change, new_rate
        lines.append(f"{head}{_number(total + rate * (t - at))} {t}\n")
    return lines


def _ceil_tick(instant: int, step: int) -> int:
    return -(-instant // step) * step


def _number(value: float) -> int | float:
    """Integers print without a fraction; floats use Python's exact round-trip repr."""
    if isinstance(value, bool) or float(value).is_integer():
        return int(value)
    return float(value)


def _label_text(labels: dict[str, str]) -> str:
    return ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
