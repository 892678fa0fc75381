"""PromQL helpers shared by the rule and dashboard checks.

Dashboard queries carry Grafana macros and template variables that are not
PromQL; `substitute_grafana_macros` turns them into plausible values so the
query parses, and `metric_names` lists what a query selects, read from
promql_parser's AST (not from a regex, which would confuse label names,
function names and keywords with metrics).
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

import promql_parser

# Grafana's built-in macros with the values a 6 h dashboard at 15 s scrape
# interval would get. (`\w+` is greedy, so `$__range_s` never reads as
# `$__range` followed by `_s`.)
GRAFANA_MACROS: dict[str, str] = {
    "__rate_interval_ms": "60000",
    "__rate_interval": "1m",
    "__interval_ms": "15000",
    "__interval": "15s",
    "__range_ms": "21600000",
    "__range_s": "21600",
    "__range": "6h",
    "__auto": "15s",
    "__from": "1700000000000",
    "__to": "1700021600000",
}

# Values for the dashboards' template variables. Anything not listed becomes
# its own name, which is a valid label value; pass `variables` for a variable
# used where a duration or a label name is expected.
DEFAULT_VARIABLES: dict[str, str] = {
    "datasource": "scheduler-prometheus",
    "DS_PROMETHEUS": "scheduler-prometheus",
    "queue": "default",
    "queue_name": "default",
    "task": "app.resilience.tasks.periodic_health_check",
    "name": "app.resilience.tasks.periodic_health_check",
    "worker": "worker-1",
    "hostname": "worker-1",
    "algorithm": "greedy",
    "job": "scheduler-backend",
    "env": "dev",
    "instance": "backend:8000",
}

# `${name}`, `${name:format}`, `[[name]]`, `[[name:format]]` and `$name`.
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<format>[\w]+))?\}"
    r"|\[\[(?P<bracketed>\w+)(?::(?P<bformat>[\w]+))?\]\]"
    r"|\$(?P<plain>\w+)"
)


def substitute_grafana_macros(expr: str, variables: Optional[Mapping[str, str]] = None) -> str:
    """The query with Grafana macros and template variables replaced by values.

    `$__rate_interval` and friends become durations or numbers as Grafana
    would send them; `$queue`, `${queue:regex}`, `[[queue]]`, `$datasource`
    become a plausible single value (regex-escaped for the `regex` format).
    """
    values = {**GRAFANA_MACROS, **DEFAULT_VARIABLES, **(variables or {})}

    def replace(match: re.Match) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        text_format = match.group("format") or match.group("bformat")
        if name.startswith("__") and name not in values:
            raise ValueError(f"unknown Grafana macro ${name} in: {expr}")
        value = values.get(name, name)
        if text_format == "regex":
            value = re.escape(value)
        return value

    return _VARIABLE.sub(replace, expr)


def parse(expr: str) -> promql_parser.Expr:
    """The AST of a query (macros substituted first); raises ValueError on bad syntax."""
    text = substitute_grafana_macros(expr)
    try:
        return promql_parser.parse(text)
    except Exception as error:  # the parser raises its own exception types
        raise ValueError(f"invalid PromQL {text!r}: {error}") from error


def metric_names(expr: str) -> set[str]:
    """Every metric name the query selects, e.g. {"celery_task_failed_total", "up"}.

    Selectors written as `{__name__="x"}` count as `x`. A selector whose name
    is a regex cannot be checked against a catalog, so it is an error rather
    than something silently skipped.
    """
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if not isinstance(node, promql_parser.VectorSelector):
            return
        if node.name:
            names.add(node.name)
            return
        for matcher in node.matchers.matchers:
            if matcher.name != "__name__":
                continue
            if matcher.op == promql_parser.MatchOp.Equal:
                names.add(matcher.value)
            else:
                raise ValueError(f"metric name matched by {matcher.op} {matcher.value!r} in {expr!r}: "
                                 "name the metric so it can be checked")

    promql_parser.walk(parse(expr), visit)
    return names
