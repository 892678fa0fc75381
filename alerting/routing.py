"""Alertmanager's routing as Alertmanager 0.35 does it: matchers, the route walk, what a route inherits.

Matchers. A `matchers:` entry (and an inhibition's `source_matchers` /
`target_matchers`) holds one or more matchers, with or without braces, values
quoted or not. Alertmanager runs without feature flags here, so it reads each
entry with its classic parser when that succeeds and with its UTF-8 parser
otherwise (quoted label names, names outside [a-zA-Z0-9_:], a brace followed
by a blank); where both succeed and disagree the classic reading is the one
used. The legacy `match` (equality) and `match_re` (a regular expression)
maps still work. Regular expressions match the whole value, and a label an
alert lacks has the empty value. Patterns are RE2 in Alertmanager and Python
`re` here: the two agree on the syntax both accept (classes, alternation,
repetition); one only RE2 reads (`\\pL`) is an error here.

The walk. The root route takes every alert. A route's children are tried in
order; a matching child is descended into and, unless it says `continue:
true`, ends the search; a route none of whose children match is itself where
the alert is delivered. receiver, group_by, group_wait, group_interval and
repeat_interval are inherited from the parent unless the route sets them
(the root inherits Alertmanager's defaults: 30s, 5m, 4h, no grouping);
mute_time_intervals and active_time_intervals are the route's own.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from alerting.durations import duration_seconds

EQUAL, NOT_EQUAL, REGEX, NOT_REGEX = "=", "!=", "=~", "!~"
# Alertmanager sorts a route's matchers by name, value, then this order.
_OPERATOR_ORDER = {EQUAL: 0, NOT_EQUAL: 1, REGEX: 2, NOT_REGEX: 3}

# Alertmanager's DefaultRouteOpts: what the root route inherits.
DEFAULT_GROUP_WAIT = "30s"
DEFAULT_GROUP_INTERVAL = "5m"
DEFAULT_REPEAT_INTERVAL = "4h"
GROUP_BY_ALL = "..."


class MatcherError(ValueError):
    """A matcher Alertmanager would refuse."""


# --------------------------------------------------------------------------
# Matchers
# --------------------------------------------------------------------------
def _label_text(value: Any) -> str:
    """A YAML scalar as Alertmanager reads it into a string (an unquoted `true` is "true")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@functools.lru_cache(maxsize=None)
def _whole_value_pattern(pattern: str) -> re.Pattern:
    try:
        # RE2's \d, \w, \s and \b are ASCII-only.
        return re.compile(f"(?:{pattern})", re.ASCII)
    except re.error as error:
        raise MatcherError(f"cannot read regular expression {pattern!r}: {error}") from None


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in _OPERATOR_ORDER:
            raise MatcherError(f"unknown operator {self.op!r}")
        if self.op in (REGEX, NOT_REGEX):
            _whole_value_pattern(self.value)

    def matches(self, labels: Mapping[str, Any]) -> bool:
        actual = _label_text(labels.get(self.name))
        if self.op == EQUAL:
            return actual == self.value
        if self.op == NOT_EQUAL:
            return actual != self.value
        found = _whole_value_pattern(self.value).fullmatch(actual) is not None
        return found if self.op == REGEX else not found

    def sort_key(self) -> tuple[str, str, int]:
        return self.name, self.value, _OPERATOR_ORDER[self.op]

    def __str__(self) -> str:
        """Alertmanager's own spelling, as `amtool config routes show` prints it."""
        if any(_reserved(char) for char in self.name):
            return f"{_go_quote(self.name)}{self.op}{_go_quote(self.value)}"
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, Any]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def _reserved(char: str) -> bool:
    return char.isspace() or char in "{}!=~,\\\"'`"


def _go_quote(text: str) -> str:
    """A string as Go's strconv.Quote writes it."""
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
             "\\": "\\\\", '"': '\\"'}
    out = []
    for char in text:
        if char in named:
            out.append(named[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


# The classic parser (Alertmanager's pkg/labels). Go's \s is [\t\n\f\r ].
_GO_SPACE = "[\t\n\f\r ]"
_CLASSIC = re.compile(rf"{_GO_SPACE}*([a-zA-Z_:][a-zA-Z0-9_:]*){_GO_SPACE}*(=~|=|!=|!~){_GO_SPACE}*((?s:.*?)){_GO_SPACE}*\Z")


def _classic_split(text: str) -> list[str]:
    """Comma-separated parts, commas inside double quotes kept; one optional brace trimmed at each end."""
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if char == ",":
            if not quoted:
                parts.append("".join(current))
                current = []
                continue
        elif char == '"':
            if escaped:
                escaped = False
            else:
                quoted = not quoted
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        current.append(char)
    last = "".join(current).strip()
    if last:
        parts.append(last)
    return parts


def _classic_matcher(text: str) -> Matcher:
    found = _CLASSIC.match(text)
    if not found:
        raise MatcherError(f"bad matcher format: {text!r}")
    raw = found.group(3)
    closing_quote_due = raw.startswith('"')
    if closing_quote_due:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        last = index == len(raw) - 1
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(char, "\\" + char))
        elif char == "\\":
            if last:
                value.append("\\")
            else:
                escaped = True
        elif char == '"':
            if not closing_quote_due or not last:
                raise MatcherError(f"matcher value contains an unescaped double quote: {text!r}")
            closing_quote_due = False
        else:
            value.append(char)
    if closing_quote_due:
        raise MatcherError(f"matcher value contains an unescaped double quote: {text!r}")
    return Matcher(found.group(1), found.group(2), "".join(value))


def _classic(text: str) -> tuple[Matcher, ...]:
    return tuple(_classic_matcher(part) for part in _classic_split(text))


# The UTF-8 parser (Alertmanager's matcher/parse): tokens, then a small grammar.
_OPERATORS = ("!=", "!~", "=~", "=")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; kind is one of { } , op quoted unquoted."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in "{},":
            tokens.append((char, char))
            position += 1
        elif char in "=!":
            operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
            if operator is None:
                raise MatcherError(f"{text!r}: '!' must be followed by '=' or '~'")
            tokens.append(("op", operator))
            position += len(operator)
        elif char == '"':
            end, escaped = position + 1, False
            while end < len(text) and (escaped or text[end] != '"'):
                escaped = not escaped and text[end] == "\\"
                end += 1
            if end >= len(text):
                raise MatcherError(f"{text!r}: missing closing double quote")
            tokens.append(("quoted", text[position:end + 1]))
            position = end + 1
        elif char.isspace():
            position += 1
        elif _reserved(char):
            raise MatcherError(f"{text!r}: unexpected {char!r}")
        else:
            end = position
            while end < len(text) and not _reserved(text[end]):
                end += 1
            tokens.append(("unquoted", text[position:end]))
            position = end
    return tokens


_GO_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _go_unquote(token: str) -> str:
    """A double-quoted Go string literal's value (strconv.Unquote), which must be valid UTF-8."""
    body = token[1:-1]
    if "\n" in body:
        raise MatcherError(f"{token!r}: a quoted string cannot hold a line break")
    out = bytearray()
    position = 0
    while position < len(body):
        char = body[position]
        if char != "\\":
            out += char.encode()
            position += 1
            continue
        kind = body[position + 1] if position + 1 < len(body) else ""
        if kind in _GO_ESCAPES:
            out.append(_GO_ESCAPES[kind])
            position += 2
        elif kind in "xuU" and kind:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = body[position + 2:position + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise MatcherError(f"{token!r}: bad \\{kind} escape")
            number = int(digits, 16)
            if kind == "x":
                out.append(number)
            elif number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
                raise MatcherError(f"{token!r}: \\{kind}{digits} is not a character")
            else:
                out += chr(number).encode()
            position += 2 + width
        elif kind in "01234567" and kind:
            digits = body[position + 1:position + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise MatcherError(f"{token!r}: bad octal escape")
            out.append(int(digits, 8))
            position += 4
        else:
            raise MatcherError(f"{token!r}: unknown escape \\{kind}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise MatcherError(f"{token!r}: not valid UTF-8") from None


def _utf8(text: str) -> tuple[Matcher, ...]:
    tokens = _tokens(text)
    braced = bool(tokens) and tokens[0][0] == "{"
    position = 1 if braced else 0
    matchers: list[Matcher] = []

    def take(*kinds: str) -> Optional[tuple[str, str]]:
        nonlocal position
        if position < len(tokens) and tokens[position][0] in kinds:
            position += 1
            return tokens[position - 1]
        return None

    def string(token: tuple[str, str]) -> str:
        return _go_unquote(token[1]) if token[0] == "quoted" else token[1]

    while position < len(tokens) and tokens[position][0] != "}":
        name, operator, value = take("quoted", "unquoted"), take("op"), take("quoted", "unquoted")
        if not (name and operator and value):
            raise MatcherError(f"{text!r}: expected label name, operator and value")
        matchers.append(Matcher(string(name), operator[1], string(value)))
        if not take(","):
            break
    if braced and not take("}"):
        raise MatcherError(f"{text!r}: expected a closing brace")
    if position != len(tokens):
        raise MatcherError(f"{text!r}: unexpected {tokens[position][1]!r}")
    return tuple(matchers)


@functools.lru_cache(maxsize=None)
def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """The matchers in one `matchers:` entry, read as Alertmanager reads it (MatcherError if it would refuse)."""
    try:
        return _classic(text)
    except MatcherError as classic_error:
        try:
            return _utf8(text)
        except MatcherError:
            raise classic_error from None


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher, such as `severity="critical"`."""
    found = parse_matchers(text)
    if len(found) != 1:
        raise MatcherError(f"expected one matcher in {text!r}, found {len(found)}")
    return found[0]


def _matchers_of(entries: Any, equal: Any, regex: Any) -> tuple[Matcher, ...]:
    found: list[Matcher] = []
    for name, value in (equal or {}).items():
        found.append(Matcher(str(name), EQUAL, _label_text(value)))
    for name, pattern in (regex or {}).items():
        # Alertmanager keeps a match_re pattern compiled with its anchors, and that is what it matches and shows.
        found.append(Matcher(str(name), REGEX, f"^(?:{_label_text(pattern)})$"))
    for entry in entries or []:
        found.extend(parse_matchers(_label_text(entry)))
    return tuple(sorted(found, key=Matcher.sort_key))


def route_matchers(route: Mapping) -> tuple[Matcher, ...]:
    """Every condition of one route (`matchers`, `match`, `match_re`), in Alertmanager's order."""
    return _matchers_of(route.get("matchers"), route.get("match"), route.get("match_re"))


def inhibition_matchers(rule: Mapping, side: str) -> tuple[Matcher, ...]:
    """The `source` or `target` conditions of one inhibition rule, all three forms."""
    if side not in ("source", "target"):
        raise ValueError(f"side is source or target, not {side!r}")
    return _matchers_of(rule.get(f"{side}_matchers"), rule.get(f"{side}_match"), rule.get(f"{side}_match_re"))


# --------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """A route an alert is delivered through, with everything it inherited resolved."""
    receiver: Optional[str]
    group_wait: float                 # seconds
    group_interval: float
    repeat_interval: float
    group_by: tuple[str, ...]         # ("...",): every label
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    path: tuple[int, ...] = ()        # child positions from the root, telling apart routes to one receiver


_INHERITED = ("receiver", "group_wait", "group_interval", "repeat_interval", "group_by")


def _group_by(value: Any) -> tuple[str, ...]:
    labels = tuple(str(label) for label in value)
    return (GROUP_BY_ALL,) if GROUP_BY_ALL in labels else labels


def _own_settings(route: Mapping) -> dict[str, Any]:
    # An empty receiver and an absent or null field leave the parent's value.
    own: dict[str, Any] = {}
    if route.get("receiver"):
        own["receiver"] = str(route["receiver"])
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if route.get(key) is not None:
            own[key] = duration_seconds(route[key])
    if route.get("group_by") is not None:
        own["group_by"] = _group_by(route["group_by"])
    return own


def routes_for(config: Mapping, labels: Mapping[str, Any]) -> list[Route]:
    """Every route an alert with these labels is delivered through, in Alertmanager's order."""
    defaults = {"receiver": None, "group_wait": duration_seconds(DEFAULT_GROUP_WAIT),
                "group_interval": duration_seconds(DEFAULT_GROUP_INTERVAL),
                "repeat_interval": duration_seconds(DEFAULT_REPEAT_INTERVAL), "group_by": ()}

    def walk(route: Mapping, inherited: dict[str, Any], path: tuple[int, ...]) -> Optional[list[Route]]:
        if not matches_all(route_matchers(route), labels):
            return None
        settings = {**inherited, **_own_settings(route)}
        delivered: list[Route] = []
        for index, child in enumerate(route.get("routes") or []):
            reached = walk(child, settings, path + (index,))
            if reached is None:
                continue
            delivered.extend(reached)
            if not child.get("continue", False):
                break
        return delivered or [Route(**{key: settings[key] for key in _INHERITED},
                                   mute_time_intervals=tuple(route.get("mute_time_intervals") or ()),
                                   active_time_intervals=tuple(route.get("active_time_intervals") or ()),
                                   path=path)]

    return walk(config.get("route") or {}, defaults, ()) or []


def receivers_for(config: Mapping, labels: Mapping[str, Any]) -> list[Optional[str]]:
    """The receivers an alert reaches, in order (`amtool config routes test`)."""
    return [route.receiver for route in routes_for(config, labels)]


def check(config: Mapping) -> None:
    """Raise ValueError naming the first route or inhibition rule Alertmanager could not read."""
    def visit(route: Mapping, where: str) -> None:
        try:
            route_matchers(route)
            _own_settings(route)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        for index, child in enumerate(route.get("routes") or []):
            visit(child, f"{where}.routes[{index}]")

    visit(config.get("route") or {}, "route")
    for index, rule in enumerate(config.get("inhibit_rules") or []):
        try:
            inhibition_matchers(rule, "source")
            inhibition_matchers(rule, "target")
        except ValueError as error:
            raise ValueError(f"inhibit_rules[{index}]: {error}") from None
