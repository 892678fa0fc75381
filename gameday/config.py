"""The stack's rendered configuration, with only its endpoints pointed at this machine.

`python -m components.render STACK OUTDIR` writes exactly what the stack
deploys. The game day changes only where things are: scrape targets, the
Alertmanager addresses Prometheus sends to, receiver URLs, the smarthost,
secret files and file paths, and which CA the e-mail receiver trusts (the
SMTP stand-in's, made for the run: STARTTLS is used as rendered). Rules,
routes, inhibitions, intervals and templates are used as rendered, so what
passes here is what is deployed.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

import yaml

from components import constants as c
from components.settings import duration_seconds
from gameday.procs import GamedayError

if TYPE_CHECKING:
    from components.render import Rendered

PROJECT_DIR = Path(__file__).resolve().parent.parent


def render(stack: str, outdir: Path) -> "Rendered":
    """Write the stack's deployed files with the stack's own renderer (components.render).

    A stack file cannot hold secret values, so rendering from it knows only the
    receivers that are switched on with a flag; the heartbeat receiver exists
    only once its secret (watchdogWebhookUrl) is set. The game day supplies
    every secret, so it renders the stack as deployed with all of them set.
    Returns what was rendered: the files (also under `outdir`) and each
    service's command as a structured value.
    """
    from components.render import render_stack, write
    from components.settings import SettingsError, from_stack_file, with_secrets_set

    try:
        settings, _ = from_stack_file(stack)
    except SettingsError as error:
        raise GamedayError(str(error)) from None
    settings = with_secrets_set(settings, "watchdogWebhookUrl")
    rendered = render_stack(settings)
    write(rendered, outdir)
    for needed in ("prometheus/prometheus.yml", "alertmanager/alertmanager.yml"):
        if not (outdir / needed).exists():
            raise GamedayError(f"components.render wrote no {needed} for stack {stack}")
    return rendered


def link_bases(stack: str) -> dict[str, str]:
    """Setting -> the URL notifications may link under: the external URLs and the runbooks' base.

    The runbooks' `{revision}` becomes the commit the rendered rules link to,
    as components.render makes it.
    """
    from components.revision import REVISION_TOKEN, runbooks_revision
    from components.settings import PROJECT_DIR as SETTINGS_PROJECT_DIR
    from components.settings import SettingsError, from_stack_file
    try:
        settings, _ = from_stack_file(stack)
    except SettingsError as error:
        raise GamedayError(str(error)) from None
    runbooks = settings.runbook_base_url
    if REVISION_TOKEN in runbooks:
        runbooks = runbooks.replace(REVISION_TOKEN, runbooks_revision(SETTINGS_PROJECT_DIR))
    bases = {"prometheusUrl": settings.prometheus_url, "alertmanagerUrl": settings.alertmanager_url,
             "grafanaUrl": settings.grafana_url, "runbookBaseUrl": runbooks}
    return {name: url for name, url in bases.items() if url}


def with_local_values(args: tuple[str, ...], local: Mapping[str, str]) -> tuple[str, ...]:
    """The deployed arguments with the values of the flags in `local` (paths, addresses) replaced."""
    missing = [flag for flag in local if not any(arg.startswith(flag + "=") for arg in args)]
    if missing:
        raise GamedayError(f"the deployed command has no {', '.join(missing)}; teach gameday/servers.py "
                           "where that lives now")
    return tuple(f"{arg.split('=', 1)[0]}={local[arg.split('=', 1)[0]]}" if arg.split("=", 1)[0] in local else arg
                 for arg in args)


def with_local_addresses(args: tuple[str, ...], local: Mapping[str, str]) -> tuple[str, ...]:
    """The arguments with each flag in `local` set to this machine's address, deployed or not.

    A server refuses a flag given twice, and whether the deployed command
    names a listen address is the platform's choice.
    """
    deployed = {arg.split("=", 1)[0] for arg in args}
    return (with_local_values(args, {flag: value for flag, value in local.items() if flag in deployed})
            + with_defaults((), {flag: value for flag, value in local.items() if flag not in deployed}))


def with_defaults(args: tuple[str, ...], defaults: Mapping[str, str]) -> tuple[str, ...]:
    """The arguments plus each flag in `defaults` the deployed command does not set.

    The external URL is kept as deployed: it is what every notification links
    to, and the rendered `--web.route-prefix=/` keeps the local server
    answering at its root whatever the URL's path.
    """
    deployed = {arg.split("=", 1)[0] for arg in args}
    return tuple(args) + tuple(f"{flag}={value}" for flag, value in defaults.items() if flag not in deployed)


# ---------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalTargets:
    """Where each scrape job's targets run on this machine."""
    by_job: Mapping[str, tuple[str, ...]]
    alertmanagers: tuple[str, ...]


def local_prometheus_config(text: str, targets: LocalTargets, rules_dir: Path) -> dict:
    config = yaml.safe_load(text)
    config = copy.deepcopy(config)
    config["rule_files"] = [_local_path(p, c.PROMETHEUS_RULES_DIR, rules_dir) for p in config.get("rule_files", [])]
    for job in config.get("scrape_configs", []):
        name = job["job_name"]
        if name not in targets.by_job:
            raise GamedayError(f"prometheus.yml scrapes job '{name}', which the game day has no stand-in "
                               f"for (it knows {sorted(targets.by_job)}); teach gameday/run.py about it")
        for key in [k for k in job if k.endswith("_sd_configs") and k != "static_configs"]:
            del job[key]   # discovery of cluster services becomes the local addresses
        job["static_configs"] = [{"targets": list(targets.by_job[name])}]
        job["scheme"] = "http"   # the local stand-ins speak plain HTTP
        job.pop("tls_config", None)
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        for key in [k for k in manager if k.endswith("_sd_configs") and k != "static_configs"]:
            del manager[key]
        manager["static_configs"] = [{"targets": list(targets.alertmanagers)}]
    # There is no long-term store on this machine; shipping samples nowhere
    # would only fill the log with errors.
    config.pop("remote_write", None)
    return config


def _local_path(path: str, deployed_dir: str, local_dir: Path) -> str:
    if path.startswith(deployed_dir + "/"):
        return str(local_dir / path[len(deployed_dir) + 1:])
    return path


# ---------------------------------------------------------------------------
# Alertmanager
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalReceivers:
    pagerduty_url: str
    slack_url: str
    watchdog_url: str
    smarthost: str
    smtp_ca_file: Optional[str] = None    # the CA the SMTP stand-in's certificate chains to


# What a secret file holds follows from the field that names it, so a receiver
# added to the stack (another PagerDuty service, say) gets its file here too.
SECRET_VALUE_BY_FIELD = {
    "routing_key_file": lambda r: "gameday0routing0key0000000000000",
    "service_key_file": lambda r: "gameday0service0key0000000000000",
    "api_url_file": lambda r: r.slack_url,
    "slack_api_url_file": lambda r: r.slack_url,
    "url_file": lambda r: r.watchdog_url,         # the only webhook is the heartbeat
    "auth_password_file": lambda r: "gameday-smtp-password",
    "smtp_auth_password_file": lambda r: "gameday-smtp-password",
}


def local_alertmanager_config(text: str, receivers: LocalReceivers, templates_dir: Path,
                              secrets_dir: Path) -> tuple[dict, list[str]]:
    """The deployed alertmanager.yml with its endpoints local; also what was changed, for the report."""
    config = copy.deepcopy(yaml.safe_load(text))
    changes: list[str] = []
    secrets_dir.mkdir(parents=True, exist_ok=True)

    def local(section: dict, field: str) -> None:
        """Point a secret file field at a local file holding what the field's stand-in needs."""
        path = section[field]
        if not (isinstance(path, str) and path.startswith(c.ALERTMANAGER_SECRETS_DIR + "/")):
            return
        if field not in SECRET_VALUE_BY_FIELD:
            raise GamedayError(f"alertmanager.yml reads {field} from {path}; the game day does not know what "
                               "that file holds (teach SECRET_VALUE_BY_FIELD in gameday/config.py)")
        section[field] = _local_path(path, c.ALERTMANAGER_SECRETS_DIR, secrets_dir)
        Path(section[field]).write_text(SECRET_VALUE_BY_FIELD[field](receivers))

    config["templates"] = [_local_path(p, c.ALERTMANAGER_TEMPLATES_DIR, templates_dir)
                           for p in config.get("templates", [])]
    glob = config.setdefault("global", {})
    for key in list(glob):
        if key.endswith("_file"):
            local(glob, key)
    if "pagerduty_url" in glob or _uses(config, "pagerduty_configs"):
        glob["pagerduty_url"] = receivers.pagerduty_url
    if "slack_api_url" in glob:
        glob["slack_api_url"] = receivers.slack_url
    if "smtp_smarthost" in glob or _uses(config, "email_configs"):
        glob["smtp_smarthost"] = receivers.smarthost
    for receiver in config.get("receivers", []):
        for pd in receiver.get("pagerduty_configs", []) or []:
            pd["url"] = receivers.pagerduty_url
            for key in ("routing_key_file", "service_key_file"):
                if key in pd:
                    local(pd, key)
        for slack in receiver.get("slack_configs", []) or []:
            if "api_url_file" in slack:
                local(slack, "api_url_file")
            else:
                slack["api_url"] = receivers.slack_url
        for mail in receiver.get("email_configs", []) or []:
            if "smarthost" in mail:
                mail["smarthost"] = receivers.smarthost
            if "auth_password_file" in mail:
                local(mail, "auth_password_file")
            if mail.get("require_tls", glob.get("smtp_require_tls", True)):
                changes.extend(_trust_stand_in(mail, glob, receivers))
        for hook in receiver.get("webhook_configs", []) or []:
            if "url_file" in hook:
                local(hook, "url_file")
            else:
                hook["url"] = receivers.watchdog_url
        for key in receiver:
            if key.endswith("_configs") and key not in ("pagerduty_configs", "slack_configs",
                                                        "email_configs", "webhook_configs"):
                raise GamedayError(f"receiver {receiver['name']} uses {key}, which has no stand-in")
    return config, sorted(set(changes))


def _trust_stand_in(mail: dict, glob: dict, receivers: LocalReceivers) -> list[str]:
    """STARTTLS as rendered, verified against the stand-in's CA: the one change TLS needs here."""
    if not receivers.smtp_ca_file:
        raise GamedayError("the e-mail receiver requires STARTTLS, and the SMTP stand-in was given no certificate")
    tls = dict(mail.get("tls_config") or glob.get("smtp_tls_config") or {})
    tls["ca_file"] = receivers.smtp_ca_file
    changes = ["e-mail tls_config.ca_file: the SMTP stand-in's throwaway CA"]
    host = receivers.smarthost.rsplit(":", 1)[0]
    if tls.get("server_name") and tls["server_name"] != host:
        # The deployed relay's name; the stand-in's certificate names 127.0.0.1.
        tls["server_name"] = host
        changes.append(f"e-mail tls_config.server_name: {host}, the name on the stand-in's certificate")
    mail["tls_config"] = tls
    return changes


def _uses(config: dict, kind: str) -> bool:
    return any(receiver.get(kind) for receiver in config.get("receivers", []))


def smtp_requires_tls(config: dict) -> bool:
    """Does any e-mail receiver require STARTTLS (Alertmanager's default when unset)?"""
    default = (config.get("global") or {}).get("smtp_require_tls", True)
    return any(mail.get("require_tls", default)
               for receiver in config.get("receivers", []) for mail in receiver.get("email_configs") or [])


def receiver_kinds(config: dict) -> dict[str, set[str]]:
    """Alertmanager receiver name -> the stand-ins it reaches (pagerduty, slack, email, watchdog)."""
    kinds = {"pagerduty_configs": "pagerduty", "slack_configs": "slack", "email_configs": "email",
             "webhook_configs": "watchdog"}
    return {r["name"]: {kind for key, kind in kinds.items() if r.get(key)} for r in config.get("receivers", [])}


def write_yaml(data: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def rule_groups(rules_dir: Path) -> list[dict]:
    groups = []
    for path in sorted(rules_dir.glob("*.yml")):
        groups.extend((yaml.safe_load(path.read_text()) or {}).get("groups", []))
    return groups


@dataclass(frozen=True)
class AlertRule:
    name: str
    group: str
    for_seconds: float
    interval_seconds: float
    labels: Mapping[str, str]
    expr: str = ""


def alert_rules(rules_dir: Path, default_interval: float) -> dict[str, AlertRule]:
    """Every alert as deployed: its `for:` and its group's evaluation interval."""
    rules: dict[str, AlertRule] = {}
    for group in rule_groups(rules_dir):
        interval = duration_seconds(group["interval"]) if group.get("interval") else default_interval
        for rule in group.get("rules", []):
            if "alert" in rule:
                rules[rule["alert"]] = AlertRule(rule["alert"], group["name"],
                                                 duration_seconds(rule["for"]) if rule.get("for") else 0.0,
                                                 interval, {k: str(v) for k, v in (rule.get("labels") or {}).items()},
                                                 str(rule.get("expr", "")))
    return rules


def prometheus_intervals(config_text: str) -> tuple[float, float]:
    glob = (yaml.safe_load(config_text) or {}).get("global", {})
    return (duration_seconds(glob.get("scrape_interval", "1m")),
            duration_seconds(glob.get("evaluation_interval", "1m")))


def inhibit_rules(config: dict) -> list[dict]:
    return list(config.get("inhibit_rules") or [])

