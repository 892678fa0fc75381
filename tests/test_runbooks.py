"""Every alert has a runbook with the five parts on-call needs, and every runbook an alert.

A runbook is read at 3 a.m. by whoever the alert reached: it says who acts
(from the alert's tier and its route), and its commands reach the stack as
deployed. The names in them (kubeconfig context, namespaces, workloads,
Services, pods, claims, containers, addresses, files inside the containers)
are checked against what the committed stacks' programs declare under mocks,
so a renamed workload or namespace fails here instead of in an incident.
"""
from __future__ import annotations

import re
import shlex
from typing import Iterator, Optional

import pytest
import yaml

from alerting.routing import receivers_for
from components.platform.kubernetes import NAME_LABEL
from components.renderers.alertmanager import (
    CLINICAL_TIER,
    EMAIL,
    EMAIL_CLINICAL,
    PAGERDUTY,
    PAGERDUTY_CLINICAL,
    SLACK,
    SLACK_CLINICAL,
    WATCHDOG,
    render_alertmanager_config,
)
from components.settings import PROJECT_DIR, from_stack_file
from tests.support import rules as r
from tests.support.stack_names import CLUSTER_DOMAIN, ClusterNames, DockerNames, Mounts, cluster_names, docker_names

RUNBOOKS = PROJECT_DIR / "runbooks"
PARTS = ("What this alert means", "Why it matters", "How to investigate", "What to do", "Who to escalate to")
ALERTS = r.alerting_rules()
# The committed stacks the commands are written for: one per platform.
KUBERNETES_STACK = "prod"
DOCKER_STACK = "dev"


def _tier(name: str) -> str:
    return ALERTS[name]["labels"]["tier"]


CLINICAL = sorted(name for name in ALERTS if _tier(name) == CLINICAL_TIER)
INFRASTRUCTURE = sorted(name for name in ALERTS if _tier(name) != CLINICAL_TIER)
# Alerts about the scheduler application itself (backend, workers, broker) rather than the monitoring.
ABOUT_THE_APPLICATION = sorted(name for name in INFRASTRUCTURE if _tier(name) in ("application", "background"))


def _text(name: str) -> str:
    return (RUNBOOKS / f"{name}.md").read_text()


def _sections(text: str) -> dict[str, str]:
    pieces = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body.strip() for title, body in zip(pieces[1::2], pieces[2::2])}


def test_every_alert_has_a_runbook_and_every_runbook_an_alert():
    runbooks = {path.stem for path in RUNBOOKS.glob("*.md")}
    assert set(ALERTS) - runbooks == set(), "alerts without a runbook"
    assert runbooks - set(ALERTS) == set(), "runbooks without an alert"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_has_the_five_parts_in_order_with_content(name):
    text = _text(name)
    assert text.startswith(f"# {name}\n")
    sections = _sections(text)
    assert tuple(sections) == PARTS, f"{name}.md has sections {list(sections)}"
    for part, body in sections.items():
        assert len(body) > 20, f"{name}.md: '{part}' says too little"


def test_runbooks_are_written_per_alert_not_copied():
    seen: dict[str, str] = {}
    for path in sorted(RUNBOOKS.glob("*.md")):
        for part, body in _sections(path.read_text()).items():
            if part == "Who to escalate to":
                continue  # several alerts rightly share an escalation path
            assert body not in seen, f"{path.name} '{part}' repeats {seen.get(body)}"
            seen[body] = path.name


@pytest.mark.parametrize("name", sorted(n for n, rule in ALERTS.items() if "dashboard_url" in rule["annotations"]))
def test_runbook_investigation_names_the_panel_the_alert_links(name):
    investigate = _sections(_text(name))["How to investigate"]
    assert "→" in investigate and "panel" in investigate, f"{name}.md should name the dashboard panel to open"


# --------------------------------------------------------------------------
# Who acts: the team from the alert's tier, the medium from its route.
# --------------------------------------------------------------------------
WHO_ACTS = re.compile(r"^\*\*Who acts:\*\* (?P<who>.+)$")
TEAMS = ("the clinical on-call", "the engineering on-call")
# How each receiver reaches a person, in the words a runbook uses.
MEDIUM_OF_RECEIVER = {PAGERDUTY: "PagerDuty", PAGERDUTY_CLINICAL: "PagerDuty", SLACK: "Slack", SLACK_CLINICAL: "Slack",
                      EMAIL: "e-mail", EMAIL_CLINICAL: "e-mail", WATCHDOG: "heartbeat"}
CLINICAL_RECEIVERS = (PAGERDUTY_CLINICAL, SLACK_CLINICAL, EMAIL_CLINICAL)


@pytest.fixture(scope="module")
def deployed_routing() -> dict:
    settings, _ = from_stack_file(KUBERNETES_STACK)
    return yaml.safe_load(render_alertmanager_config(settings))


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_runbook_says_who_acts_and_how_the_alert_reaches_them(name, deployed_routing):
    lines = _text(name).splitlines()
    match = WHO_ACTS.match(lines[2]) if len(lines) > 2 and lines[1] == "" else None
    assert match, f"{name}.md: the line under the title must be '**Who acts:** the <team> on-call, ...'"
    who = match["who"]
    team = TEAMS[0] if _tier(name) == CLINICAL_TIER else TEAMS[1]
    assert who.startswith(team), f"{name}.md: a {_tier(name)} alert is {team}'s, the runbook says '{who}'"
    labels = {**ALERTS[name]["labels"], "alertname": name, "env": KUBERNETES_STACK}
    receivers = receivers_for(deployed_routing, labels)
    assert receivers and all(receiver in MEDIUM_OF_RECEIVER for receiver in receivers), \
        f"{name} is routed to {receivers}, which reach nobody"
    assert all((receiver in CLINICAL_RECEIVERS) <= (team == TEAMS[0]) for receiver in receivers), \
        f"{name} is routed to the clinical team's {receivers} but belongs to {team}"
    expected = {MEDIUM_OF_RECEIVER[receiver] for receiver in receivers}
    named = {medium for medium in set(MEDIUM_OF_RECEIVER.values()) if medium in who}
    assert named == expected, f"{name}.md says it arrives by {named or 'nothing'}; its route sends it by {expected}"


@pytest.mark.parametrize("name", CLINICAL)
def test_clinical_runbook_says_what_to_do_in_the_scheduler_and_what_to_ask_engineering(name):
    to_do = _sections(_text(name))["What to do"]
    assert "in the scheduler" in to_do, f"{name}.md: what does the clinical on-call do in the scheduler?"
    assert "engineering on-call" in to_do, f"{name}.md: what should the clinical on-call ask engineering?"


# --------------------------------------------------------------------------
# Commands: every kubectl, docker and redis-cli a runbook gives.
# --------------------------------------------------------------------------
TOOLS = ("kubectl", "docker", "redis-cli")
FENCE = re.compile(r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```", re.M | re.S)
INLINE = re.compile(r"`([^`\n]+)`")
SEPARATORS = {"|", "||", "&&", ";", "&"}
PLACEHOLDER = re.compile(r"^<[^<>]+>$")


def commands(text: str) -> list[list[str]]:
    """Each kubectl, docker or redis-cli invocation in a runbook (code blocks and inline code), as argv."""
    lines = []
    for block in FENCE.findall(text):
        lines += [line for line in re.sub(r"\\\n\s*", " ", block).splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    lines += [span for span in INLINE.findall(FENCE.sub("", text)) if span.split()[0] in TOOLS]
    found = []
    for line in lines:
        # A stream merge (2>&1) is no separator between commands.
        lexer = shlex.shlex(re.sub(r"\s\d*>&\d+", "", line), posix=True, punctuation_chars="|&;")
        lexer.whitespace_split = True
        argv: list[str] = []
        for token in [*lexer, ";"]:
            if token in SEPARATORS:
                if argv and argv[0] in TOOLS:
                    found.append(argv)
                argv = []
            else:
                argv.append(token)
    return found


def _options(argv: list[str], takes_value: set[str], stop_at_positional: bool = False) -> tuple[dict, list[str]]:
    """(options, positionals) of argv[1:]; `--` ends parsing, and so does the first positional if asked."""
    options: dict[str, object] = {}
    positionals: list[str] = []
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "--" or (stop_at_positional and positionals):
            break
        if token.startswith("-") and len(token) > 1:
            flag, equals, value = token.partition("=")
            if equals:
                options[flag] = value
            elif flag in takes_value:
                index += 1
                options[flag] = argv[index]
            else:
                options[flag] = True
        else:
            positionals.append(token)
        index += 1
    return options, positionals


URL = re.compile(r"https?://([A-Za-z0-9.-]+)")
# Paths every container has besides what the stack mounts.
ANY_CONTAINER_PATHS = ("/tmp", "/dev/null")


def address_problems(tokens: list[str], hosts: frozenset[str]) -> list[str]:
    return [f"addresses {host}, which is neither localhost nor a name the stack gives"
            for token in tokens for host in URL.findall(token)
            if host != "localhost" and host.removesuffix(CLUSTER_DOMAIN) not in hosts]


def path_problems(tokens: list[str], mounts: Mounts) -> list[str]:
    """Absolute paths of a command run inside a container: a mounted file, a directory holding
    one, or anything in its data directory."""
    def exists(path: str) -> bool:
        path = path.rstrip("/") or "/"
        roots = [root for root in (mounts.data, *ANY_CONTAINER_PATHS) if root]
        return (path in mounts.files or any(f.startswith(path + "/") for f in mounts.files)
                or any(path == root or path.startswith(root + "/") for root in roots))
    return [f"reads or writes {token}, which the container does not have"
            for token in tokens if token.startswith("/") and not exists(token)]


# ---------------------------------------------------------------- kubectl
KUBECTL_VALUE_FLAGS = {"--context", "-n", "--namespace", "-l", "--selector", "-c", "--container", "--since", "--tail",
                       "-o", "--output", "--field-selector", "--for", "--timeout", "--sort-by", "--replicas",
                       "--to-revision", "--address", "--type", "--patch"}
KINDS = {**dict.fromkeys(("pod", "pods", "po"), "pod"),
         **dict.fromkeys(("statefulset", "statefulsets", "sts"), "statefulset"),
         **dict.fromkeys(("deployment", "deployments", "deploy"), "deployment"),
         **dict.fromkeys(("service", "services", "svc"), "service"),
         # A Service's Endpoints carry its name.
         **dict.fromkeys(("endpoints", "ep"), "service"),
         **dict.fromkeys(("pvc", "persistentvolumeclaim", "persistentvolumeclaims"), "pvc"),
         **dict.fromkeys(("storageclass", "storageclasses", "sc"), "storageclass"),
         **dict.fromkeys(("networkpolicy", "networkpolicies", "netpol"), "networkpolicy")}
WORKLOAD_KINDS = ("statefulset", "deployment", "service")


def kubectl_references(argv: list[str]) -> tuple[dict, list[tuple[str, str]], list[str]]:
    """(options, the (kind, name) pairs the command acts on, problems)."""
    options, positionals = _options(argv, KUBECTL_VALUE_FLAGS)
    if not positionals:
        return options, [], ["no verb"]
    verb, arguments = positionals[0], positionals[1:]
    problems: list[str] = []
    references: list[tuple[str, str]] = []

    def reference(text: str, default_kind: Optional[str] = None) -> None:
        kind, slash, name = text.partition("/")
        if not slash:
            kind, name = default_kind, text
        if kind not in KINDS:
            problems.append(f"names {text}, a kind this check does not know")
        else:
            references.append((KINDS[kind], name))

    if verb in ("get", "describe", "delete", "top", "patch"):
        if arguments and "/" not in arguments[0]:
            kind, names = arguments[0], arguments[1:]
            if names:
                for name in names:
                    reference(name, kind)
        else:
            for argument in arguments:
                reference(argument)
    elif verb in ("logs", "exec", "port-forward"):
        if not arguments:
            problems.append(f"{verb} names nothing")
        else:
            reference(arguments[0], "pod")
    elif verb in ("rollout", "scale"):
        for argument in arguments[1:] if verb == "rollout" else arguments:
            reference(argument)
    else:
        problems.append(f"verb {verb!r} is not one this check knows")
    return options, references, problems


def _namespace(options: dict) -> object:
    return options.get("-n", options.get("--namespace"))


def kubectl_problems(argv: list[str], cluster: ClusterNames) -> list[str]:
    options, references, problems = kubectl_references(argv)
    context = options.get("--context")
    namespace = _namespace(options)
    if context != cluster.context:
        problems.append(f"--context is {context!r}, the {KUBERNETES_STACK} stack's is {cluster.context!r}")
    if namespace not in (cluster.namespace, cluster.application_namespace):
        problems.append(f"namespace {namespace!r} is neither the stack's ({cluster.namespace}) nor the "
                        f"application's ({cluster.application_namespace})")
    selector = options.get("-l", options.get("--selector"))
    if namespace == cluster.namespace:
        existing = {"statefulset": {n for k, n in cluster.workloads if k == "statefulset"},
                    "deployment": {n for k, n in cluster.workloads if k == "deployment"},
                    "service": cluster.services, "pod": cluster.pods, "pvc": cluster.claims,
                    "storageclass": cluster.storage_classes, "networkpolicy": cluster.network_policies}
        problems += [f"names {kind} {name}, which the stack does not declare"
                     for kind, name in references if name not in existing[kind]]
        if isinstance(selector, str):
            for requirement in selector.split(","):
                key, _, value = requirement.partition("=")
                if key != NAME_LABEL or value not in cluster.app_labels:
                    problems.append(f"selects {requirement}, which no pod of the stack carries")
        inside = argv[argv.index("--") + 1:] if "--" in argv else []
        for kind, name in references:
            workload = name.rsplit("-", 1)[0] if kind == "pod" else name
            if inside and kind in ("pod", "statefulset", "deployment") and workload in cluster.mounts:
                problems += path_problems(inside, cluster.mounts[workload])
    elif namespace == cluster.application_namespace:
        # Only the backend's Service is known from the stack; other names are the reader's to fill in.
        problems += [f"names {kind} {name} in the application's namespace: only svc/{cluster.application_service}"
                     " is known, write anything else as a <placeholder>"
                     for kind, name in references
                     if not PLACEHOLDER.match(name) and (kind, name) != ("service", cluster.application_service)]
        if isinstance(selector, str) and not PLACEHOLDER.match(selector):
            problems.append(f"selects {selector} in the application's namespace, whose labels the stack does not know")
    return problems + address_problems(argv, cluster.hosts)


def names_a_workload_of_the_stack(argv: list[str], cluster: ClusterNames) -> bool:
    options, references, problems = kubectl_references(argv)
    existing = {("service", name) for name in cluster.services} | set(cluster.workloads)
    return (not problems and options.get("--context") == cluster.context
            and _namespace(options) == cluster.namespace
            and any(kind in WORKLOAD_KINDS and (kind, name) in existing for kind, name in references))


# ---------------------------------------------------------------- docker
DOCKER_VALUE_FLAGS = {
    "logs": {"--since", "--until", "--tail", "-n"},
    "restart": {"-t", "--time", "-s", "--signal"},
    "rm": set(),
    "exec": {"-u", "--user", "-e", "--env", "-w", "--workdir"},
    "inspect": {"-f", "--format", "--type"},
    "ps": {"-f", "--filter", "--format", "-n", "--last"},
}


def docker_problems(argv: list[str], docker: DockerNames) -> tuple[list[str], bool]:
    """(problems, whether it names one of the stack's containers)."""
    if len(argv) < 2 or argv[1] not in DOCKER_VALUE_FLAGS:
        return [f"docker {argv[1:2]} is not a form this check knows"], False
    sub = argv[1]
    options, positionals = _options(argv[1:], DOCKER_VALUE_FLAGS[sub], stop_at_positional=sub == "exec")
    problems: list[str] = []
    names_container = False
    if sub in ("logs", "restart", "rm", "exec"):
        targets = positionals if sub in ("restart", "rm") else positionals[:1]
        if not targets:
            problems.append(f"docker {sub} names no container")
        problems += [f"names container {t}, which the stack does not declare"
                     for t in targets if t not in docker.containers]
        if sub == "exec" and targets and targets[0] in docker.mounts:
            problems += path_problems(argv[argv.index(targets[0], 2) + 1:], docker.mounts[targets[0]])
        names_container = bool(targets) and not problems
    elif sub == "inspect":
        problems += [f"inspects {t}, which the stack does not declare"
                     for t in positionals if t not in docker.containers | docker.volumes]
        names_container = any(t in docker.containers for t in positionals) and not problems
    elif sub == "ps":
        wanted = options.get("-f", options.get("--filter"))
        if isinstance(wanted, str):
            key, _, value = wanted.partition("=")
            if key != "name" or not any(value in container for container in docker.containers):
                problems.append(f"filters on {wanted}, which matches no container of the stack")
    problems += address_problems(argv, docker.hosts)
    return problems, names_container


# ---------------------------------------------------------------- redis-cli
def redis_cli_problems(argv: list[str]) -> list[str]:
    """The broker's address is secret: it appears only as placeholders the reader fills in."""
    options, _ = _options(argv, {"-h", "-p", "-a", "-u", "-n"})
    problems = [f"{flag} is {options.get(flag)!r}, not a <placeholder> for the broker's {what}"
                for flag, what in (("-h", "host"), ("-p", "port"))
                if not (isinstance(options.get(flag), str) and PLACEHOLDER.match(options[flag]))]
    problems += [f"{flag} puts the broker's password on the command line" for flag in ("-a", "-u") if flag in options]
    return problems


@pytest.fixture(scope="module")
def cluster() -> ClusterNames:
    return cluster_names(KUBERNETES_STACK)


@pytest.fixture(scope="module")
def docker() -> DockerNames:
    return docker_names(DOCKER_STACK)


def _invocations(name: str, tool: str) -> Iterator[list[str]]:
    return (argv for argv in commands(_text(name)) if argv[0] == tool)


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_command_names_what_the_stacks_deploy(name, cluster, docker):
    problems = []
    for argv in commands(_text(name)):
        if argv[0] == "kubectl":
            found = kubectl_problems(argv, cluster)
        elif argv[0] == "docker":
            found = docker_problems(argv, docker)[0]
        else:
            found = redis_cli_problems(argv)
        problems += [f"`{shlex.join(argv)}`: {problem}" for problem in found]
    assert problems == [], f"{name}.md:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_infrastructure_runbook_reaches_the_stack_on_both_platforms(name, cluster, docker):
    assert any(names_a_workload_of_the_stack(argv, cluster) for argv in _invocations(name, "kubectl")), \
        (f"{name}.md needs a `kubectl --context {cluster.context} -n {cluster.namespace} ...` command naming one of "
         f"the stack's workloads or Services ({', '.join(sorted(f'{k}/{n}' for k, n in cluster.workloads))}, "
         f"svc/...)")
    assert any(docker_problems(argv, docker)[1] for argv in _invocations(name, "docker")), \
        f"{name}.md needs a docker command naming one of {sorted(docker.containers)}"


@pytest.mark.parametrize("name", ABOUT_THE_APPLICATION)
def test_application_runbook_reaches_the_application_too(name, cluster):
    in_application = [argv for argv in _invocations(name, "kubectl")
                      if _namespace(kubectl_references(argv)[0]) == cluster.application_namespace]
    assert in_application, f"{name}.md needs a kubectl command in the application's namespace " \
                           f"{cluster.application_namespace} (from backendTarget)"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_a_runbook_that_reaches_the_broker_says_where_its_address_comes_from(name):
    if any(True for _ in _invocations(name, "redis-cli")):
        assert "celeryBrokerUrl" in _text(name), \
            f"{name}.md: say that <broker-host> and <broker-port> come from the secret celeryBrokerUrl"


# ---------------------------------------------------------------- the checks themselves
# {ctx}, {ns}, {app_ns}, {backend} and {dev} stand for the names read from the stacks.
CHECK_CASES = [
    ("kubectl get pods", False),
    ("kubectl -n {ns} get pods", False),
    ("kubectl --context {ctx} get pods", False),
    ("kubectl --context other -n {ns} get pods", False),
    ("kubectl --context {ctx} -n default get pods", False),
    ("kubectl --context {ctx} -n {ns} get pods -l app.kubernetes.io/name=prometheus", True),
    ("kubectl --context {ctx} -n {ns} get pods -l app.kubernetes.io/name=thanos", False),
    ("kubectl --context {ctx} -n {ns} rollout restart statefulset/prometheus", True),
    ("kubectl --context {ctx} -n {ns} rollout restart deployment/prometheus", False),
    ("kubectl --context {ctx} -n {ns} logs prometheus-1 --since=1h", True),
    ("kubectl --context {ctx} -n {ns} logs prometheus-9", False),
    ("kubectl --context {ctx} -n {ns} exec deployment/celery-exporter -- python -c 'print(1)'", True),
    ("kubectl --context {ctx} -n {ns} delete pvc data-prometheus-1", True),
    ("kubectl --context {ctx} -n {ns} delete pvc data-prometheus-9", False),
    ("kubectl --context {ctx} -n {ns} port-forward svc/prometheus-lb 9090", True),
    ("kubectl --context {ctx} -n {ns} port-forward svc/thanos-query 9090", False),
    ("kubectl --context {ctx} -n {ns} get networkpolicy prometheus", True),
    ("kubectl --context {ctx} -n {ns} get networkpolicy allow-all", False),
    ("kubectl --context {ctx} -n {ns} scale statefulset/prometheus --replicas=1", True),
    ("kubectl --context {ctx} -n {ns} apply -f x.yaml", False),
    ("kubectl --context {ctx} -n {ns} exec prometheus-0 -- promtool check config /etc/prometheus/prometheus.yml", True),
    ("kubectl --context {ctx} -n {ns} exec alertmanager-0 -- promtool check config /etc/prometheus/prometheus.yml",
     False),
    ("kubectl --context {ctx} -n {ns} exec alertmanager-0 -- ls -l /etc/alertmanager/secrets/", True),
    ("kubectl --context {ctx} -n {ns} exec prometheus-1 -- mv /prometheus/<ULID> /prometheus/<ULID>.corrupt", True),
    ("kubectl --context {ctx} -n {ns} exec prometheus-1 -- wget -q -O - http://alertmanager-2.alertmanager.{ns}.svc:9093",
     True),
    ("kubectl --context {ctx} -n {ns} exec prometheus-1 -- wget -q -O - http://alertmanager-7.alertmanager.{ns}.svc:9093",
     False),
    ("kubectl --context {ctx} -n {ns} exec prometheus-1 -- wget -q -O - http://{backend}.{app_ns}.svc.cluster.local:8000",
     True),
    ("kubectl --context {ctx} -n {app_ns} logs svc/{backend}", True),
    ("kubectl --context {ctx} -n {app_ns} logs svc/{backend}-internal", False),
    ("kubectl --context {ctx} -n {app_ns} rollout restart deployment/<worker-deployment>", True),
    ("kubectl --context {ctx} -n {app_ns} rollout restart deployment/celery-worker", False),
    ("kubectl --context {ctx} -n {app_ns} scale deployment/<worker-deployment> --replicas=<N>", True),
    ("kubectl --context {ctx} -n {app_ns} get pods -l app=worker", False),
    ("docker logs {dev}", True),
    ("docker exec {dev} promtool check config /etc/prometheus/prometheus.yml", True),
    ("docker restart {dev}-old", False),
    ("docker exec {dev} wget -q -O - http://alertmanager:9093/-/ready", True),
    ("docker exec {dev} wget -q -O - http://alertmanager-0:9093/-/ready", False),
    ("docker exec {dev} ls /etc/grafana", False),
    ("docker ps --filter name={dev}", True),
    ("docker ps --filter name=thanos", False),
    ("docker compose restart", False),
    ("redis-cli ping", False),
    ("redis-cli -h <broker-host> -p <broker-port> --askpass ping", True),
    ("redis-cli -h redis.scheduler.svc -p 6379 ping", False),
    ("redis-cli -h <broker-host> -p <broker-port> -a <password> ping", False),
]


def _check_case(line: str, cluster: ClusterNames, docker: DockerNames) -> str:
    (prometheus,) = [name for name in docker.containers if name.endswith("-prometheus")]
    return line.format(ctx=cluster.context, ns=cluster.namespace, app_ns=cluster.application_namespace,
                       backend=cluster.application_service, dev=prometheus)


@pytest.mark.parametrize("line, valid", CHECK_CASES)
def test_the_command_check_tells_good_commands_from_bad(line, valid, cluster, docker):
    (argv,) = commands(f"```sh\n{_check_case(line, cluster, docker)}\n```")
    if argv[0] == "kubectl":
        problems = kubectl_problems(argv, cluster)
    elif argv[0] == "docker":
        problems = docker_problems(argv, docker)[0]
    else:
        problems = redis_cli_problems(argv)
    assert (problems == []) is valid, problems


@pytest.mark.parametrize("line, names_one", [
    ("kubectl --context {ctx} -n {ns} port-forward svc/prometheus-lb 9090", True),
    ("kubectl --context {ctx} -n {ns} logs deployment/celery-exporter", True),
    ("kubectl --context {ctx} -n {ns} logs prometheus-1", False),      # a pod, not a workload or Service
    ("kubectl --context {ctx} -n {app_ns} logs svc/{backend}", False),  # the application's, not the stack's
])
def test_the_check_for_a_command_reaching_the_stack(line, names_one, cluster, docker):
    (argv,) = commands(f"```sh\n{_check_case(line, cluster, docker)}\n```")
    assert names_a_workload_of_the_stack(argv, cluster) is names_one


def test_commands_are_found_in_blocks_pipelines_and_inline_code():
    text = ("Run `kubectl get pods` or:\n\n```sh\ndocker logs x | grep -i error\n"
            "kubectl --context c -n n \\\n  logs y\n# docker restart z\n```\n")
    assert commands(text) == [["docker", "logs", "x"], ["kubectl", "--context", "c", "-n", "n", "logs", "y"],
                              ["kubectl", "get", "pods"]]
