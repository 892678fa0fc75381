"""Game days: rehearse incidents against the stack's deployed configuration on real servers.

`python -m gameday [--quick]` renders a stack (components.render), starts real
Prometheus and Alertmanager (HA shape: 2 + 3 clustered), Redis, a Celery
worker and the Celery exporter on loopback ports, points only the endpoints at
local stand-ins (PagerDuty, Slack, SMTP, heartbeat webhook, Grafana's
/metrics), drives the scenarios in gameday/scenarios/*.yml through simulated
scheduler backends and the real Celery side, and reports what reached whom,
when, against what the configuration allows.
"""
