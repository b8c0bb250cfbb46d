"""Routing rules, pure: router rules send an alert to a service by its content, service rules
rewrite, suppress, drop or pause it, inhibit rules silence alerts beneath an open incident.

A rule is plain data (as JSON gives it), compiled once into closures when it is saved or
loaded (`compile_service_rules`, `compile_router_rules`, `compile_inhibit_rules`, which raise
`RuleErrors` with every problem and its path), then evaluated per alert against a read-only
view of it (`view_of`): `evaluate(rules, view, now) -> Decision`. Nothing here does I/O,
reads the clock or imports anything of the rest of Tocsin.

Where each part is described:
    view        the alert as rules see it, per wire format
    fields      field paths (`labels.alertname`, `payload.<path>`…) and how values compare
    conditions  field tests, all / any / not        timewindow  time conditions
    templates   "{{labels.alertname}} on {{labels.instance}}"
    actions     what a service rule does, and how matched rules add up
    ruleset     service and router rule sets, order, continue, catch-all
    inhibition  inhibit rules and the index of open source incidents
    dispatch    how a rule set avoids testing most of its rules
    memo        how a rule set answers an alert like one it has decided for already
"""

from .decision import NO_CHANGES, NOTHING, Changes, Decision, Disposition
from .inhibition import InhibitIndex, InhibitRule, InhibitRules, compile_inhibit_rules
from .problems import Problem, RuleErrors
from .ruleset import (
    Route,
    RouterRules,
    ServiceRule,
    ServiceRules,
    compile_router_rules,
    compile_service_rules,
    evaluate,
)
from .view import FORMATS, AlertView, view_of

__all__ = [
    "FORMATS", "NOTHING", "NO_CHANGES", "AlertView", "Changes", "Decision", "Disposition", "InhibitIndex",
    "InhibitRule", "InhibitRules", "Problem", "Route", "RouterRules", "RuleErrors", "ServiceRule", "ServiceRules",
    "compile_inhibit_rules", "compile_router_rules", "compile_service_rules", "evaluate", "view_of",
]
