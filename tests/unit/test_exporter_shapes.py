"""Each exporter shape renders exactly the label sets docs/exporters.md states.

The doc's table is the one statement of the shapes' facts; the simulator's declarations
(devtools/simulate/exporters.py) must render it, so neither can change alone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from devtools.simexporter import render
from devtools.simulate import DEFAULT_EXPORTER, SHAPES, build_scenario, write_openmetrics
from devtools.simulate.families import FAMILIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "exporters.md"
SAMPLE = re.compile(r"^(\w+)\{(.*)\} \S+ \d+$")
# Labels the path adds (Thanos Receive, HA pairs, emitter copies), not the exporter.
PATH_LABELS = {"tenant_id", "prometheus_replica", "job"}
CONTRACT_ROWS = [f"{name}_total" if kind == "counter" else name for name, kind, _ in FAMILIES]
FAMILY_NAMES = [name for name, _, _ in FAMILIES]


def documented() -> dict[str, dict[str, tuple[str, frozenset[str]]]]:
    """shape -> contract family -> (emitted family, label names), from the doc's table."""
    lines = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line]
    start = next(i for i, line in enumerate(lines) if line.startswith("| family |"))
    shapes = re.findall(r"`([^`]+)`", lines[start])
    table: dict[str, dict[str, tuple[str, frozenset[str]]]] = {shape: {} for shape in shapes}
    for line in lines[start + 2 :]:
        if not line.startswith("| `"):
            break
        row, *cells = re.findall(r"`([^`]+)`", line)
        for shape, cell in zip(shapes, cells, strict=True):
            emitted, _, inside = cell.rpartition("{")
            text = inside.rstrip("}") if emitted else cell
            names = frozenset() if text == "(none)" else frozenset(text.split(", "))
            table[shape][row] = (emitted or row, names)
    return table


def rendered_label_sets(text: str) -> dict[str, set[frozenset[str]]]:
    """Emitted family -> the label-name sets of its samples (`label_*` collapsed)."""
    found: dict[str, set[frozenset[str]]] = defaultdict(set)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, labels = SAMPLE.match(line).groups()
        names = {n for n in re.findall(r'(\w+)="', labels) if n not in PATH_LABELS}
        collapsed = {"label_*" if n.startswith("label_") else n for n in names}
        found[name].add(frozenset(collapsed))
    return found


def test_the_doc_covers_every_shape_and_family() -> None:
    table = documented()
    assert sorted(table) == sorted(SHAPES)
    for rows in table.values():
        assert list(rows) == CONTRACT_ROWS


@pytest.mark.parametrize("exporter", sorted(SHAPES))
def test_the_rendered_label_sets_are_the_documented_ones(exporter: str, tmp_path: Path) -> None:
    scenario = build_scenario(
        1, 1, date(2026, 6, 2), seed=3, scrape_interval_s=3600, exporter=exporter
    )
    assert scenario["exporter"] == exporter
    write_openmetrics(scenario, tmp_path / "m.om")
    found = rendered_label_sets((tmp_path / "m.om").read_text())
    expected: dict[str, set[frozenset[str]]] = defaultdict(set)
    shape = SHAPES[exporter]
    for row, (emitted, names) in documented()[exporter].items():
        # The scrape's target labels (job, instance; exported_instance without
        # honor_labels) are the customer's Prometheus', not the exporter's.
        stored = shape.stored(contract_family(row), dict.fromkeys(names, ""))
        expected[emitted].add(frozenset(stored) - PATH_LABELS)
    assert found == expected


def contract_family(row: str) -> str:
    """The contract family of a doc row (a counter's row has its `_total` sample name)."""
    return {name: family for family, name in zip(FAMILY_NAMES, CONTRACT_ROWS, strict=True)}[row]


def test_kubecost_relabelled_moves_the_exporter_s_instance_aside(tmp_path: Path) -> None:
    scenario = build_scenario(
        1, 1, date(2026, 6, 2), seed=3, scrape_interval_s=3600, exporter="kubecost-relabelled"
    )
    write_openmetrics(scenario, tmp_path / "m.om")
    text = (tmp_path / "m.om").read_text()
    target = 'instance="kubecost-cost-analyzer.kubecost:9003"'
    cost = next(line for line in text.splitlines() if line.startswith("node_cpu_hourly_cost{"))
    node = re.search(r'[{,]node="([^"]+)"', cost).group(1)
    assert f'exported_instance="{node}"' in cost  # the exporter's instance is the node
    assert target in cost and 'job="kubecost"' in cost
    running = next(
        line for line in text.splitlines() if line.startswith("kube_pod_container_status_running")
    )
    assert target in running and "exported_instance" not in running


def test_the_live_exporter_renders_the_same_shape() -> None:
    scenario = build_scenario(1, 1, date(2026, 6, 2), seed=3, exporter="ksm2")
    noon = scenario["start"] + 43200
    text = render(scenario["clusters"][0], noon, "ksm2")
    assert '\nkube_node_status_capacity{node="' in text
    assert text.count("# TYPE kube_node_status_capacity gauge") == 1
    assert "kube_node_status_capacity_cpu_cores" not in text


def test_the_default_has_no_uid_on_container_series(tmp_path: Path) -> None:
    scenario = build_scenario(1, 1, date(2026, 6, 2), seed=3, scrape_interval_s=3600)
    assert scenario["exporter"] == DEFAULT_EXPORTER == "opencost"
    write_openmetrics(scenario, tmp_path / "m.om")
    for line in (tmp_path / "m.om").read_text().splitlines():
        if line.startswith("container_"):
            assert "uid=" not in line


def test_an_unknown_exporter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown exporter"):
        build_scenario(1, 1, date(2026, 6, 2), exporter="kubecost-9")
