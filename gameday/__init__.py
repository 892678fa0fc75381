"""Game days: rehearse incidents against the stack's deployed configuration on real servers.

`python -m gameday [--quick]` renders a stack (components.render), starts real
Prometheus and Alertmanager (HA shape: 2 + 3 clustered), Redis, a Celery
worker and the Celery exporter on loopback ports, points only the endpoints at
local stand-ins (PagerDuty, Slack, SMTP, heartbeat webhook, Grafana's
/metrics), drives the scenarios in gameday/scenarios/*.yml through simulated
scheduler backends and the real Celery side, and reports what reached whom,
when, against what the configuration allows.

Beside the scenarios run the disruptions production lives through every
week: a rolling restart of the Alertmanagers, one Alertmanager killed, a
Prometheus replica restarted on its data and later replaced with an empty
data directory. A long-running backend with old violation and forged-token
counters is scraped throughout: nothing may ever alert about it.
"""
