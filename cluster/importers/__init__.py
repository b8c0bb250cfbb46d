"""`tocsin import pagerduty|opsgenie`: another on-call tool's account as a configuration
document for review, with a report of what could not be mapped, and `--check` comparing who
each says is on call."""
