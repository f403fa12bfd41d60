"""Lives of the large families (containers): first and last seen step, exact to the scrape.

Phase 1 (`LifeFamily.summary`, etl/metroculus/queries.py) gives per raw series a 24-bit
hourly presence mask (bit k: seen at some step of bucket k; every raw sample read once)
and whether it was seen at the day's first and last step. A series seen at both ends
(most pods live all day) is settled. For the others, the bucket of the first (last)
presence holds the first (last) seen step, so phase 2 (`refine_query`) evaluates the
per-step definition over that bucket only (60 steps at 60 s instead of 1,440), for
those series only: selected by name, one `or` part per bucket and edge. A name selects
every series of that name (another namespace's too); only the answers asked for are
kept, so the extra series cost evaluation, never correctness.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from etl.metroculus.promql import Sample
from etl.metroculus.queries import PART, LifeFamily, bucket_s, part

log = logging.getLogger(__name__)

Key = tuple[str, ...]
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def names_matcher(label: str, names: Iterable[str]) -> str:
    """`label=~"a|b"` for exactly these values (escaped for RE2 and PromQL), or a matcher
    that selects nothing when there are none (so the query is still sent, and counted)."""
    values = sorted(set(names))
    if not values:
        return f'{label}=~"",{label}!=""'
    escaped = (
        _RE2_SPECIAL.sub(r"\\\1", value).replace("\\", "\\\\").replace('"', '\\"')
        for value in values
    )
    return f'{label}=~"{"|".join(escaped)}"'


@dataclass
class Lives:
    """A family's lives: key -> [first, last] (Unix s; None until phase 2 finds it)."""

    family: LifeFamily
    edges: dict[Key, list[float | None]] = field(default_factory=dict)
    # (edge, bucket) -> the keys whose edge is in that bucket
    pending: dict[tuple[str, int], set[Key]] = field(default_factory=dict)


def summarize(family: LifeFamily, samples: list[Sample], day_start_s: int, step_s: int) -> Lives:
    """Phase 1's answer -> settled lives and the (edge, bucket) each other key needs."""
    masks: dict[Key, int] = defaultdict(int)
    start: set[Key] = set()
    end: set[Key] = set()
    for sample in samples:
        key = tuple(sample.labels.get(label, "") for label in family.keys)
        kind = sample.labels.get(PART)
        if kind == "mask":
            masks[key] |= int(sample.value)
        elif kind == "start" and sample.value == 1:
            start.add(key)
        elif kind == "end" and sample.value == 1:
            end.add(key)
    lives = Lives(family)
    last_step = day_start_s + 86400 - step_s
    pending: dict[tuple[str, int], set[Key]] = defaultdict(set)
    for key, mask in masks.items():
        if not mask:
            continue
        first = float(day_start_s) if key in start else None
        last = float(last_step) if key in end else None
        if first is None:
            pending[("first", (mask & -mask).bit_length() - 1)].add(key)
        if last is None:
            pending[("last", mask.bit_length() - 1)].add(key)
        lives.edges[key] = [first, last]
    lives.pending = dict(pending)
    return lives


def refine_query(lives: Lives, day_start_s: int, step_s: int) -> str:
    """Phase 2: the first (last) seen step of each pending key, within its bucket."""
    family = lives.family
    bucket = bucket_s(step_s)
    name_index = family.keys.index(family.name_label)
    by = ", ".join(family.keys)
    parts = []
    for (edge, k), keys in sorted(lives.pending.items()):
        agg = "min" if edge == "first" else "max"
        matcher = names_matcher(family.name_label, (key[name_index] for key in keys))
        seen = family.step_seen.format(s=f"{family.metric}{{sel,{matcher}}}", w="{window}")
        at = day_start_s + k * bucket + bucket - step_s
        parts.append(
            part(
                f"{edge}{k}",
                f"{agg} by ({by}) ({agg}_over_time({seen}[{{bucket}}:{{step}}] @ {at}))",
            )
        )
    if not parts:
        return f"{family.metric}{{sel,{names_matcher(family.name_label, [])}}}"
    return " or ".join(parts)


def finish(lives: Lives, samples: list[Sample], day_start_s: int, step_s: int) -> None:
    """Fill the pending edges from phase 2's answer (in place)."""
    family = lives.family
    found = {
        (sample.labels.get(PART, ""), tuple(sample.labels.get(k, "") for k in family.keys)): (
            sample.value
        )
        for sample in samples
    }
    bucket = bucket_s(step_s)
    for (edge, k), keys in lives.pending.items():
        for key in keys:
            value = found.get((f"{edge}{k}", key))
            if value is None:
                # Data changed between the two phases (late remote writes): the bucket's edge.
                log.warning("%s %s: no %s step found in bucket %d", family.name, key, edge, k)
                value = day_start_s + k * bucket + (0 if edge == "first" else bucket - step_s)
            lives.edges[key][0 if edge == "first" else 1] = float(value)


def rows(lives: Lives, edge: str) -> list[list[object]]:
    """Answer rows (keys..., value) of the first or last seen step."""
    index = 0 if edge == "first" else 1
    return [[*key, pair[index]] for key, pair in lives.edges.items() if pair[index] is not None]
