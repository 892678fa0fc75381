"""Names and ports every part of the stack agrees on.

Rules, dashboards and renderers refer to these, so they are defined once.
"""

# Scrape job names. Alerts and dashboards select on them (`up{job="..."}`), as
# literals in their native files, so the names are fixed rather than settings.
JOB_BACKEND = "scheduler-backend"
JOB_PROMETHEUS = "prometheus"
JOB_CELERY_EXPORTER = "celery-exporter"
# The sign-in proxies in front of Prometheus's and Alertmanager's optional ingresses.
PROMETHEUS_AUTH = "prometheus-auth"
ALERTMANAGER_AUTH = "alertmanager-auth"
JOB_ALERTMANAGER = "alertmanager"
JOB_GRAFANA = "grafana"

# Service names: container names on Docker, Service/StatefulSet names on Kubernetes.
PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
GRAFANA = "grafana"
CELERY_EXPORTER = "celery-exporter"
# The sign-in proxies in front of Prometheus's and Alertmanager's optional ingresses.
PROMETHEUS_AUTH = "prometheus-auth"
ALERTMANAGER_AUTH = "alertmanager-auth"

# Ports inside the containers (the images' defaults).
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_CLUSTER_PORT = 9094
GRAFANA_PORT = 3000
CELERY_EXPORTER_PORT = 9808
AUTH_PROXY_PORT = 4180

# Grafana content.
DATASOURCE_UID = "scheduler-prometheus"
DATASOURCE_NAME = "Prometheus"
FOLDER_UID = "residency-scheduler"
FOLDER_TITLE = "Residency Scheduler"
# The SLO dashboard's folder, nested in the one above (Grafana's nested folders).
SLO_FOLDER_UID = "residency-scheduler-slos"
SLO_FOLDER_TITLE = "SLOs"
SLO_DASHBOARD_UID = "scheduler-slos"

# The rule group generated from slos/*.yml (no file in rules/ may take its name).
SLO_RULE_GROUP = "scheduler_slos"

# Paths inside the containers.
PROMETHEUS_CONFIG_DIR = "/etc/prometheus"
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
PROMETHEUS_DATA_DIR = "/prometheus"
ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager"
ALERTMANAGER_TEMPLATES_DIR = "/etc/alertmanager/templates"
# Receiver secrets reach Alertmanager as files here, never inside alertmanager.yml.
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
ALERTMANAGER_DATA_DIR = "/alertmanager"
GRAFANA_DATA_DIR = "/var/lib/grafana"
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"
GRAFANA_SECRETS_DIR = "/etc/grafana/secrets"
AUTH_PROXY_SECRETS_DIR = "/etc/oauth2-proxy"

# File names of the receiver secrets under ALERTMANAGER_SECRETS_DIR.
PAGERDUTY_ROUTING_KEY_FILE = "pagerduty_routing_key"
PAGERDUTY_CLINICAL_ROUTING_KEY_FILE = "pagerduty_clinical_routing_key"
SLACK_WEBHOOK_URL_FILE = "slack_webhook_url"
SLACK_CLINICAL_WEBHOOK_URL_FILE = "slack_clinical_webhook_url"
SMTP_PASSWORD_FILE = "smtp_password"
WATCHDOG_WEBHOOK_URL_FILE = "watchdog_webhook_url"

# Placeholders in rules/*.yml, replaced by the rule renderer with settings.
RUNBOOK_BASE_URL_TOKEN = "${RUNBOOK_BASE_URL}"
GRAFANA_URL_TOKEN = "${GRAFANA_URL}"
# Bytes a Prometheus data volume holds when full (a number in PromQL and templates).
PROMETHEUS_VOLUME_BYTES_TOKEN = "${PROMETHEUS_VOLUME_BYTES}"
