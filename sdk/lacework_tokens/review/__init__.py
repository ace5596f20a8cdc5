"""What a Terraform plan does to Lacework agent access tokens, before anyone applies it.

```python
import json
from lacework_tokens.review import review_plan

review = review_plan(json.load(open("plan.json")))
for change in review.changes:
    print(change.address, change.summary())
for finding in review.findings:
    print(finding.severity, finding.rule.id, finding.address, finding.message)
```

Importing this package imports neither the backend nor the Terraform plugin; ``--live`` impact
needs an SDK ``Client`` (``ClientUsageSource(Client.from_env())``). Public names are imported on
first use, so the command line can register ``review`` without loading the reviewer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from lacework_tokens.review.engine import DEFAULT_WINDOW, review_plan
    from lacework_tokens.review.model import (
        Acknowledgement,
        AgentUsage,
        ChangeKind,
        Finding,
        Flow,
        Review,
        SourceLocation,
        TokenChange,
    )
    from lacework_tokens.review.plan import PlanError, load_plan
    from lacework_tokens.review.rules import RULES, Rule, Severity, UnknownRuleError
    from lacework_tokens.review.source import SourceTree
    from lacework_tokens.review.usage import ClientUsageSource, UsageSource

_LAZY: Final = {
    "DEFAULT_WINDOW": "engine",
    "review_plan": "engine",
    "Acknowledgement": "model",
    "AgentUsage": "model",
    "ChangeKind": "model",
    "Finding": "model",
    "Flow": "model",
    "Review": "model",
    "SourceLocation": "model",
    "TokenChange": "model",
    "PlanError": "plan",
    "load_plan": "plan",
    "RULES": "rules",
    "Rule": "rules",
    "Severity": "rules",
    "UnknownRuleError": "rules",
    "SourceTree": "source",
    "ClientUsageSource": "usage",
    "UsageSource": "usage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lacework_tokens.review' has no attribute {name!r}")
    value = getattr(import_module(f"lacework_tokens.review.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_WINDOW",
    "RULES",
    "Acknowledgement",
    "AgentUsage",
    "ChangeKind",
    "ClientUsageSource",
    "Finding",
    "Flow",
    "PlanError",
    "Review",
    "Rule",
    "Severity",
    "SourceLocation",
    "SourceTree",
    "TokenChange",
    "UnknownRuleError",
    "UsageSource",
    "load_plan",
    "review_plan",
]
