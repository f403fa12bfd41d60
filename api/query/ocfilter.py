"""OpenCost's allocation filter language (v2), for the `filter` of /allocation.

The grammar is OpenCost's (opencost/opencost `core/pkg/filter/ast/parser.go` and
`lexer.go`): comparisons `field op "value"[,"value"...]` joined by `+` (and) or `|`
(or), one operator per parenthesised level; the operators `:` equals, `!:` not
equals, `~:` contains, `!~:`, `<~:` starts with, `!<~:`, `~>:` ends with, `!~>:`
(`core/pkg/filter/matcher/stringmatcher.go` says what each means on a string). Several
values of a positive operator are an or; of a negated one, an and (`namespace!:"a","b"`
is neither). A missing label reads as "" (OpenCost's map matcher).

We answer the fields our allocation rows carry and `k8s_costs` groups by: `cluster`
(the cluster's cloud account id), `node`, `namespace`, `controllerName` (our
`Kind/name` controller key) and `label[<key>]`. Each becomes a grouping of the
k8s_costs query (`PARTS`), and a group is kept when the filter holds for its parts
(api/routes/allocation.py); an unknown field or malformed filter is a `FilterError`,
which the route turns into a 400 naming the `filter` parameter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# The filter field -> the k8s_costs grouping (sql/include/k8s_costs_grouping.sql).
PARTS = {
    "cluster": "cluster",
    "node": "node",
    "namespace": "namespace",
    "controllerName": "controller",
}
LABEL_FIELD = "label"
LABEL_PART = "label:"
MISSING_LABEL = "__unallocated__"  # the k8s_costs key of a row without the label

_MATCH: dict[str, Callable[[str, str], bool]] = {
    ":": lambda have, want: have == want,
    "~:": lambda have, want: want in have,
    "<~:": lambda have, want: have.startswith(want),
    "~>:": lambda have, want: have.endswith(want),
}
_OPERATORS = ("!<~:", "!~>:", "!~:", "<~:", "~>:", "!:", "~:", ":")
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"[^"]*")|(?P<key>\[[^\]]*\])|(?P<op>!<~:|!~>:|!~:|<~:|~>:|!:|~:|:)'
    r"|(?P<punct>[+|(),])|(?P<word>[\w-]+))"
)


class FilterError(ValueError):
    """A filter we cannot read or answer."""


@dataclass(frozen=True)
class Comparison:
    part: str  # the k8s_costs grouping it reads
    operator: str
    values: tuple[str, ...]

    def holds(self, parts: Mapping[str, str]) -> bool:
        have = parts[self.part]
        if self.part.startswith(LABEL_PART) and have == MISSING_LABEL:
            have = ""
        negated = self.operator.startswith("!")
        match = _MATCH[self.operator.removeprefix("!")]
        if negated:
            return not any(match(have, value) for value in self.values)
        return any(match(have, value) for value in self.values)


@dataclass(frozen=True)
class Group:
    every: bool  # `+` (and) or `|` (or)
    operands: tuple[Comparison | Group, ...]

    def holds(self, parts: Mapping[str, str]) -> bool:
        combine = all if self.every else any
        return combine(operand.holds(parts) for operand in self.operands)


@dataclass(frozen=True)
class AllocationFilter:
    """A parsed filter: the groupings it reads, and whether a group's parts pass."""

    root: Comparison | Group | None  # None: no filter

    @property
    def parts(self) -> tuple[str, ...]:
        found: list[str] = []

        def walk(node: Comparison | Group | None) -> None:
            if isinstance(node, Comparison):
                found.append(node.part)
            elif isinstance(node, Group):
                for operand in node.operands:
                    walk(operand)

        walk(self.root)
        return tuple(dict.fromkeys(found))

    def holds(self, parts: Mapping[str, str]) -> bool:
        return self.root is None or self.root.holds(parts)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].isspace():
            break
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise FilterError(f"unexpected character {text[position]!r} at position {position}")
        kind = found.lastgroup or ""
        tokens.append((kind, found[kind]))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, kind: str, what: str) -> str:
        found_kind, text = self.peek()
        if found_kind != kind:
            raise FilterError(f"expected {what}, found {text or 'the end'!r}")
        self.at += 1
        return text

    def filter(self, depth: int) -> Comparison | Group:
        operands = [self.element(depth)]
        joiner = ""
        while self.peek() in (("punct", "+"), ("punct", "|")):
            symbol = self.peek()[1]
            if joiner and symbol != joiner:
                raise FilterError(f"mixed '+' and '|' on one level: add parentheses ({symbol!r})")
            joiner = symbol
            self.at += 1
            operands.append(self.element(depth))
        if depth and self.peek() == ("punct", ")"):
            self.at += 1
        elif depth:
            raise FilterError("'(' without a matching ')'")
        return operands[0] if not joiner else Group(joiner == "+", tuple(operands))

    def element(self, depth: int) -> Comparison | Group:
        if self.peek() == ("punct", "("):
            self.at += 1
            return self.filter(depth + 1)
        return self.comparison()

    def comparison(self) -> Comparison:
        field = self.take("word", "a filter field like namespace or label[app]")
        if field == LABEL_FIELD:
            key = self.take("key", "a label key in brackets, label[app]")[1:-1]
            if not key:
                raise FilterError("label[] needs a key")
            part = LABEL_PART + key
        elif field in PARTS:
            part = PARTS[field]
        else:
            known = ", ".join([*PARTS, "label[<key>]"])
            raise FilterError(f"filter field {field!r} is not supported (supported: {known})")
        operator = self.take("op", f"an operator ({' '.join(_OPERATORS)})")
        values = [self.take("string", 'a quoted value ("...")')[1:-1]]
        while self.peek() == ("punct", ","):
            self.at += 1
            values.append(self.take("string", 'a quoted value ("...")')[1:-1])
        return Comparison(part, operator, tuple(values))


def parse(text: str) -> AllocationFilter:
    """The filter `text` (empty: none); a FilterError says what is wrong where."""
    if not text.strip():
        return AllocationFilter(None)
    parser = _Parser(text)
    root = parser.filter(0)
    kind, rest = parser.peek()
    if kind != "end":
        raise FilterError(f"unexpected {rest!r} after a complete filter")
    return AllocationFilter(root)
