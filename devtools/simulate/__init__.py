"""The cluster simulator: synthetic Kubecost/OpenCost clusters whose costs are known.

Why: the pipeline reads PromQL answers, so it is tested against a real PromQL engine
(Prometheus, fed with `promtool` backfill) holding data whose costs can be computed
analytically from the scenario (tests/truth.py) instead of from the samples.

`build_scenario` describes the clusters (scenario.py); `write_openmetrics` renders
their metrics (openmetrics.py); `simulate_to_dir` does both into one directory.

Sampling semantics (the pipeline and the truth calculator rely on them):
- The history window is [first day 00:00 UTC, day after the last day 00:00 UTC).
  The scrape interval R divides a day; every start, end and price change is a multiple of R.
- An entity alive over [start, end) is sampled at every tick t = k*R with start <= t < end
  and t inside the window. Entities may be created before the window or outlive it; they
  are sampled only inside it.
- A gauge carries the value in force at t: a piecewise price [[from, price], ...] gives
  the price of the last piece with from <= t. So a sample stands for [t, t+R), and
  sum of samples x R/3600 is exactly the integral over hours; a full day has 86400/R samples.
- The counter `kubecost_pod_network_egress_bytes_total` at tick t is rate * (t - pod start)
  bytes: 0 at the pod's start, growing linearly, never reset.
- Pods that stop inside the window egress at most a few bytes/s (far below 1% of the
  long-running pods' bytes), because Prometheus' `increase` cannot see the last scrape
  interval of a stopped series (it extrapolates only half of it).
- Every series carries `tenant_id="<cluster's tenant>"`, as Thanos Receive would add it.
- The label names of each family follow the scenario's `exporter` shape (exporters.py,
  docs/exporters.md): the default is OpenCost without `uid` on cost-model series.
- Opt-in pitfalls (`build_scenario(..., pitfalls=[...])`, pitfalls.py) bend these rules
  the way real clusters do: a cluster's `gaps` have no samples at all, HA replicas and
  duplicate emitters write series twice, a network-costs restart resets counters, and
  a completed pod's kube-state-metrics series outlive its run (reporting 0).
- Backfilled data has no staleness markers: an instant selector (and so a subquery step)
  still sees an ended series for the lookback delta (5 min) after its last sample, which
  a live Prometheus would have marked stale. Range selectors are exact: on Prometheus 2
  (closed ranges) `count_over_time(x[1d])` at the day's last millisecond counts exactly
  that day's samples.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from devtools.simulate.exporters import DEFAULT_EXPORTER, SHAPES
from devtools.simulate.openmetrics import write_openmetrics
from devtools.simulate.scenario import build_scenario

__all__ = ["DEFAULT_EXPORTER", "SHAPES", "build_scenario", "simulate_to_dir", "write_openmetrics"]


def simulate_to_dir(
    out_dir: Path,
    clusters: int,
    days: int,
    end_day: date,
    seed: int = 1,
    scrape_interval_s: int = 60,
    exporter: str = DEFAULT_EXPORTER,
) -> Path:
    """Write `metrics.om` and `scenario.json` into `out_dir`; returns the scenario's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario = build_scenario(
        clusters, days, end_day, seed=seed, scrape_interval_s=scrape_interval_s, exporter=exporter
    )
    write_openmetrics(scenario, out_dir / "metrics.om")
    scenario_path = out_dir / "scenario.json"
    scenario_path.write_text(json.dumps(scenario, indent=1) + "\n", encoding="utf-8")
    return scenario_path
