"""Alertmanager's routing in plain Python (alerting.routing), held against the deployed amtool."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from alerting.routing import (
    Matcher,
    MatcherError,
    duration_seconds,
    inhibition_matchers,
    parse_matcher,
    parse_matchers,
    receivers_for,
    route_matchers,
    routes_for,
)
from components.renderers.alertmanager import EMAIL, PAGERDUTY, SLACK, TIMING, WATCHDOG, render_alertmanager_config
from components.settings import from_stack_file, with_secrets_set
from tests.support import rules as r

# Every form of condition Alertmanager accepts in a route.
CONFIG = yaml.safe_load(r"""
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [alertname="Watchdog"]
      receiver: watchdog
    - matchers: ['severity="critical"', 'page=~"true|yes"']
      receiver: pagerduty
      continue: true
    - match_re: {severity: "critical|warning"}
      receiver: slack
      routes:
        - matchers: ['{component="celery", env!~"dev.*"}']
          receiver: celery-team
        - match: {tier: clinical}
    - matchers: [severity=info]
      receiver: email
    # A blank after the closing brace: only Alertmanager's UTF-8 parser reads this one.
    - matchers: ['{ team = "db" } ']
      receiver: db-team
    # A quoted label name outside the classic character set, and an unquoted regular expression.
    - matchers: ['"service.name"="billing", region=~eu-.*']
      receiver: billing
    - matchers: ['summary="say \"hi\", then leave"']
      receiver: quoted
    # \t is no escape to the classic parser, which wins: the value holds a backslash.
    - matchers: ['path="C:\tmp"']
      receiver: windows
    - matchers: ['note=a=b', 'empty=""', 'code=~"5\\d\\d"']
      receiver: odd
    # The classic parser trims a brace at either end, paired or not.
    - matchers: ['{tier=gold']
      receiver: gold
receivers: [{name: default}, {name: watchdog}, {name: pagerduty}, {name: slack}, {name: celery-team}, {name: email},
            {name: db-team}, {name: billing}, {name: quoted}, {name: windows}, {name: odd}, {name: gold}]
""")

LABEL_SETS = [
    {"alertname": "Watchdog", "severity": "none"},
    {"alertname": "A", "severity": "critical", "page": "true", "env": "prod"},
    {"alertname": "A", "severity": "critical", "page": "truer", "env": "prod"},
    {"alertname": "B", "severity": "warning", "component": "celery", "env": "prod"},
    {"alertname": "B", "severity": "warning", "component": "celery", "env": "dev"},
    {"alertname": "C", "severity": "critical", "page": "yes", "tier": "clinical", "component": "celery"},
    {"alertname": "D", "severity": "info"},
    {"alertname": "E"},
    {"alertname": "F", "team": "db"},
    {"alertname": "G", "service.name": "billing", "region": "eu-west"},
    {"alertname": "G", "service.name": "billing", "region": "us-east"},
    {"alertname": "H", "summary": 'say "hi", then leave'},
    {"alertname": "I", "path": "C:\\tmp"},
    {"alertname": "I", "path": "C:\tmp"},
    {"alertname": "J", "note": "a=b", "code": "503"},
    {"alertname": "J", "note": "a=b", "code": "503", "empty": "x"},
    {"alertname": "J", "note": "a=b", "code": "5x3"},
    {"alertname": "K", "tier": "gold"},
]


def _deployed_config() -> dict:
    """The prod stack's routing with every receiver on, as the game day runs it."""
    settings, _ = from_stack_file("prod")
    settings = with_secrets_set(settings, "watchdogWebhookUrl")
    return yaml.safe_load(render_alertmanager_config(settings))


# Every deployed alert as Alertmanager receives it (rule labels, name, the env external label),
# and severities no rule uses today.
DEPLOYED_LABEL_SETS = [{**rule.get("labels", {}), "alertname": name, "env": "prod"}
                       for name, rule in sorted(r.alerting_rules().items())] + [
    {"alertname": "X", "severity": severity, "env": "prod", "page": page}
    for severity, page in (("critical", "false"), ("warning", "true"), ("none", "false"))]


def _amtool(*args: str) -> list[str]:
    """amtool's output lines, without the parser's warnings it logs to the same stream."""
    result = subprocess.run([r.tool("amtool"), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if not line.startswith("time=")]


def _our_tree(route: dict, inherited: str = "") -> list[str]:
    """`amtool config routes show`'s lines for a route tree: matchers as parsed, continue, receiver."""
    receiver = route.get("receiver") or inherited
    matchers = route_matchers(route)
    slug = "{" + ",".join(map(str, matchers)) + "}" if matchers else "default-route"
    lines = [slug + ("  continue: true" if route.get("continue") else "") + f"  receiver: {receiver}"]
    for child in route.get("routes") or []:
        lines += _our_tree(child, receiver)
    return lines


def _amtool_tree(path) -> list[str]:
    return [line.split("── ", 1)[1] for line in _amtool("config", "routes", "show", "--config.file", str(path))
            if "── " in line]


def test_route_walk_agrees_with_amtool(tmp_path):
    """The deployed amtool reads each route's matchers and routes each label set as alerting.routing does."""
    for name, config, label_sets in (("forms", CONFIG, LABEL_SETS), ("deployed", _deployed_config(), DEPLOYED_LABEL_SETS)):
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump(config))
        assert _amtool_tree(path) == _our_tree(config["route"]), f"{name}: matchers read differently"
        for labels in label_sets:
            # Written in Alertmanager's own spelling, so every value reaches amtool unchanged.
            arguments = [str(Matcher(key, "=", value)) for key, value in labels.items()]
            [expected] = _amtool("config", "routes", "test", "--config.file", str(path), *arguments)
            assert ",".join(receivers_for(config, labels)) == expected, f"{name}: {labels}"


# -- timings: amtool shows receivers only, so the inheritance is checked on its own ---------
TIMED = yaml.safe_load("""
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: [a="1"]
      group_interval: 1m
      routes:
        - matchers: [b="1"]
          repeat_interval: 2h
          group_by: ['...']
          mute_time_intervals: [nights]
          routes:
            - matchers: [c="1"]
              receiver: deep
    - matchers: [a="2"]
      receiver: ""
      group_wait: 0s
      group_by: []
      active_time_intervals: [office]
      continue: true
    - matchers: [a=~"2|3"]
      group_wait: null
      receiver: other
""")


def test_each_route_inherits_what_it_does_not_set():
    [top] = routes_for(TIMED, {"a": "1"})
    assert (top.receiver, top.group_wait, top.group_interval, top.repeat_interval, top.group_by) == \
           ("team", 10, 60, 4 * 3600, ("alertname",))
    [middle] = routes_for(TIMED, {"a": "1", "b": "1"})
    assert (middle.group_wait, middle.group_interval, middle.repeat_interval, middle.group_by) == \
           (10, 60, 7200, ("...",))
    assert middle.mute_time_intervals == ("nights",)
    [deep] = routes_for(TIMED, {"a": "1", "b": "1", "c": "1"})
    assert (deep.receiver, deep.group_wait, deep.group_interval, deep.repeat_interval, deep.group_by) == \
           ("deep", 10, 60, 7200, ("...",))
    assert deep.mute_time_intervals == (), "time intervals are a route's own, never inherited"
    assert deep.path == (0, 0, 0)


def test_empty_and_null_settings_inherit_and_an_empty_group_by_clears_grouping():
    continued, other = routes_for(TIMED, {"a": "2"})
    assert (continued.receiver, continued.group_wait, continued.group_by) == ("team", 0, ())
    assert continued.active_time_intervals == ("office",)
    assert (other.receiver, other.group_wait, other.group_by) == ("other", 10, ("alertname",))
    assert [route.path for route in (continued, other)] == [(1,), (2,)]


def test_the_root_inherits_alertmanagers_defaults():
    [root] = routes_for({"route": {"receiver": "x"}}, {"alertname": "A"})
    assert (root.group_wait, root.group_interval, root.repeat_interval, root.group_by) == (30, 300, 4 * 3600, ())


def test_each_severity_gets_its_receivers_timing_in_the_deployed_routing():
    config = _deployed_config()
    for labels, kind in (({"alertname": "Watchdog"}, WATCHDOG), ({"severity": "critical"}, PAGERDUTY),
                         ({"severity": "warning"}, SLACK), ({"severity": "info"}, EMAIL)):
        [route] = routes_for(config, {"env": "prod", **labels})
        timing = {key: duration_seconds(value) for key, value in TIMING[kind].items()}
        assert (route.group_wait, route.group_interval, route.repeat_interval) == \
               (timing["group_wait"], timing["group_interval"], timing["repeat_interval"]), labels


# -- matchers ---------------------------------------------------------------------------
def test_matchers_match_whole_values_and_read_a_missing_label_as_empty():
    assert parse_matcher('alertname=~"A|B,C"').matches({"alertname": "B,C"})
    assert not parse_matcher('alertname=~"A|B"').matches({"alertname": "AB"}), "regexes are anchored"
    assert parse_matcher('team!="x"').matches({}), "a missing label is the empty string"
    assert not parse_matcher('team=~".+"').matches({})
    assert not parse_matcher('text=~"a.b"').matches({"text": "a\nb"}), "as in RE2, . stops at a line break"
    assert not parse_matcher(r'code=~"\d"').matches({"code": "٣"}), r"as in RE2, \d is ASCII"
    assert parse_matcher("page=true").matches({"page": True}), "an unquoted YAML true is the string true"


def test_matchers_read_as_alertmanager_reads_them():
    assert parse_matcher("severity = critical") == Matcher("severity", "=", "critical")
    assert parse_matcher(r'summary="say \"hi\""').value == 'say "hi"'
    assert parse_matchers('{a="x,y", b=~"z",}') == (Matcher("a", "=", "x,y"), Matcher("b", "=~", "z"))
    assert parse_matchers("") == () and parse_matchers("{}") == ()
    assert parse_matcher(r'"a\u00e9"="\x41"') == Matcher("aé", "=", "A"), "the UTF-8 parser unquotes as Go does"
    assert str(Matcher("a b", "=", 'x"y')) == r'"a b"="x\"y"'
    for refused in ("not a matcher", 'a="x', 'a=~"("', 'a="x" b="y"', "a!b"):
        with pytest.raises(MatcherError):
            parse_matchers(refused)


def test_legacy_and_inhibition_forms():
    route = {"match": {"severity": "critical"}, "match_re": {"team": "db|web"}, "matchers": ["env=prod"]}
    assert [str(m) for m in route_matchers(route)] == ['env="prod"', 'severity="critical"', 'team=~"^(?:db|web)$"']
    rule = {"source_matchers": ['alertname="A"'], "target_match": {"alertname": "B"}, "target_match_re": {"x": ".+"}}
    assert inhibition_matchers(rule, "source") == (Matcher("alertname", "=", "A"),)
    assert [m.name for m in inhibition_matchers(rule, "target")] == ["alertname", "x"]


def test_durations_as_prometheus_reads_them():
    assert duration_seconds("1h30m") == 5400 and duration_seconds("0") == 0 and duration_seconds("250ms") == 0.25
    assert duration_seconds("1w2d") == 9 * 86400
    for refused in ("", "1m1h", "5", "1.5h", "-1m", "10x"):
        with pytest.raises(ValueError):
            duration_seconds(refused)
