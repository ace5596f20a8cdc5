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
needs an SDK ``Client`` (``ClientUsageSource(Client.from_env())``).
"""

from __future__ import annotations

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
