"""The change report: what a pull request changes in the monitoring, in words.

`python -m changes BASE [HEAD]` compares two revisions of this repository and
prints Markdown: alerts and recording rules, Alertmanager routing (which alerts
now reach a different receiver), dashboards, each service's image and flags as
every stack runs them, and stack settings. A raw
`pulumi preview` shows the same changes as changed strings; reviewers need the
meaning ("CriticalUtilization now fires at 0.85 after 1m instead of 0.9 after
2m").
"""
