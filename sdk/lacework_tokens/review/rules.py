"""The review's rules: stable ids, a severity, a one-line rationale and a fix.

Ids never change meaning once published: a rule that changes what it checks gets a new id, so
``--ignore`` lists and acknowledgements in code keep saying what their author meant. Ids are
grouped: ``LWT1xx`` what happens to a token, ``LWT2xx`` where its value flows, ``LWT3xx`` hygiene.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

__all__ = ["RULES", "Rule", "Severity", "UnknownRuleError", "rule", "rule_ids"]


class Severity(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: ``finding.severity.rank >= threshold.rank`` gates CI."""
        return _RANKS[self]

    def __str__(self) -> str:
        return self.value


_RANKS: Final = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


@attrs.frozen
class Rule:
    id: str
    name: str
    severity: Severity
    title: str
    rationale: str
    fix: str


class UnknownRuleError(ValueError):
    """An id or name that names no rule (``--ignore`` typo, ack of a rule that does not exist)."""


_ALL: Final = (
    # --- what happens to each token -----------------------------------------------------
    Rule(
        "LWT101",
        "token-destroyed",
        Severity.HIGH,
        "A token is destroyed: it is disabled and renamed <name>-xxxxx-deleted, not deleted.",
        "Agent access tokens cannot be deleted; a destroy disables the token and every agent "
        "that enrolled with it stops reporting. Critical when --live counts agents on it, low "
        "when --live counts none.",
        "Move its agents to a successor token first (create it, roll out, wait a check-in "
        "window), or keep the resource; `lifecycle { prevent_destroy = true }` guards it.",
    ),
    Rule(
        "LWT102",
        "token-disabled",
        Severity.HIGH,
        "A token is disabled: every agent using it stops reporting.",
        "A disabled token is refused at check-in, so its agents go dark until they get another "
        "token. Critical when --live counts agents on it, low when --live counts none.",
        "Disable a token only after its agents have moved to a successor; check with --live.",
    ),
    Rule(
        "LWT103",
        "token-replaced",
        Severity.HIGH,
        "A token is replaced: the old value is soft-deleted and a new value is created.",
        "Nothing in the token forces a replacement, so this is a taint or -replace; the new "
        "value reaches no agent by itself and every agent holding the old one stops reporting. "
        "Critical when --live counts agents on the old value, low when --live counts none.",
        "Rotate instead: add a new token beside the old one, move agents, then destroy the old "
        "one (examples/terraform/rotation).",
    ),
    Rule(
        "LWT104",
        "token-renamed",
        Severity.LOW,
        "A token is renamed: agents keep working, lookups by the old name stop finding it.",
        "Data sources, scripts and `lacework agent token show` find tokens by name; the token "
        "value, and so every agent, is unaffected.",
        "Update whatever looks the token up by its old name in the same change.",
    ),
    Rule(
        "LWT105",
        "token-revived",
        Severity.MEDIUM,
        "A soft-deleted token is enabled again: every old copy of its value works again.",
        "A soft-deleted token was retired on purpose; install scripts, images and config files "
        "made while it was live can enroll agents again once it is enabled.",
        "Create a new token instead of reviving a retired one, unless reviving is the point.",
    ),
    Rule(
        "LWT106",
        "token-imported",
        Severity.INFO,
        "An existing token comes under this configuration.",
        "Once imported, a destroy or `enabled = false` in this configuration disables a token "
        "that agents made elsewhere may rely on.",
        "Check which agents use it (--live) and who else manages it before merging.",
    ),
    Rule(
        "LWT107",
        "value-unknown",
        Severity.MEDIUM,
        "The plan does not know a token's name or enabled state until apply.",
        "An unknown `enabled` may turn out false and an unknown name may collide with an "
        "existing token; the review cannot say which.",
        "Derive names and `enabled` from values known at plan time (variables, locals).",
    ),
    Rule(
        "LWT108",
        "token-forgotten",
        Severity.INFO,
        "Terraform stops managing a token; the token itself stays as it is.",
        "A `removed` block with `destroy = false` drops the token from state without disabling "
        "it: it keeps enrolling agents, and no configuration tracks it any more.",
        "Make sure another configuration imports it, or disable it deliberately.",
    ),
    # --- where token values flow --------------------------------------------------------
    Rule(
        "LWT201",
        "output-nonsensitive",
        Severity.HIGH,
        "An output carries a token value without being sensitive (nonsensitive()).",
        "Terraform prints non-sensitive outputs in plan and apply logs, which CI keeps and "
        "shows to everyone who can read the pipeline.",
        "Drop nonsensitive() and declare the output `sensitive = true`.",
    ),
    Rule(
        "LWT202",
        "local-file",
        Severity.HIGH,
        "A token value is written to a local_file.",
        "local_file writes world-readable files (0777 by default) and shows its content in "
        "plan diffs.",
        "Use local_sensitive_file (mode 0700 files, content hidden in plans).",
    ),
    Rule(
        "LWT203",
        "ssm-plaintext",
        Severity.HIGH,
        "A token value is stored in an SSM parameter that is not a SecureString.",
        "String and StringList parameters are readable by anyone with ssm:GetParameter and are "
        "not encrypted with KMS.",
        'Set type = "SecureString" (and a key_id if the default key is not enough).',
    ),
    Rule(
        "LWT204",
        "user-data",
        Severity.HIGH,
        "A token value is put into EC2 user data.",
        "User data is readable through ec2:DescribeInstanceAttribute and by every process on "
        "the instance from the metadata service, for the instance's whole life.",
        "Fetch the token at boot from Secrets Manager or an SSM SecureString instead.",
    ),
    Rule(
        "LWT205",
        "config-map",
        Severity.HIGH,
        "A token value is put into a Kubernetes ConfigMap.",
        "ConfigMaps are not secrets: anyone who can read the namespace's ConfigMaps reads it.",
        "Use kubernetes_secret (and mount it into the agent's pods).",
    ),
    Rule(
        "LWT206",
        "ci-variable",
        Severity.HIGH,
        "A token value is stored as a GitHub Actions variable.",
        "Actions variables are plain text, shown in the repository settings and in job logs.",
        "Use github_actions_secret (or the environment or organization secret).",
    ),
    Rule(
        "LWT207",
        "tags-labels",
        Severity.HIGH,
        "A token value is put into tags or labels.",
        "Tags and labels are metadata: listed by describe calls, billing and inventory tools "
        "to people who may never read a secret.",
        "Tag with the token's name, never its value.",
    ),
    Rule(
        "LWT208",
        "triggers",
        Severity.MEDIUM,
        "A token value is used as a trigger of terraform_data or null_resource.",
        "Triggers are copied into state as change markers and read by provisioners "
        "(self.triggers), whose commands end up in logs.",
        "Trigger on the token's name or version, or on sha256() of its value.",
    ),
    Rule(
        "LWT209",
        "other-destination",
        Severity.LOW,
        "A token value flows to an attribute this review does not know to keep secrets.",
        "Only known secret stores (SecureString parameters, Secrets Manager, Kubernetes and "
        "GitHub secrets, sensitive files) are certain to keep the value from readers.",
        "Check the destination keeps it secret; acknowledge the finding once it does.",
    ),
    # --- hygiene ------------------------------------------------------------------------
    Rule(
        "LWT301",
        "missing-description",
        Severity.LOW,
        "A token has no description.",
        "When it must be rotated or retired, a description is what tells people which agents "
        "and which deployment use it.",
        'Describe where it is used, e.g. description = "k8s daemonset, prod-eu".',
    ),
    Rule(
        "LWT302",
        "name-pattern",
        Severity.MEDIUM,
        "A token's name does not match the naming convention (--name-pattern).",
        "Names are how people and scripts tell tokens of different deployments apart.",
        "Rename it to match the pattern.",
    ),
    Rule(
        "LWT303",
        "module-all-disabled",
        Severity.CRITICAL,
        "Every token of one module is disabled or destroyed at once.",
        "A module's tokens usually serve one fleet; with none left enabled, all of its agents "
        "stop reporting together. Low when --live counts no agents on any of them.",
        "Roll out a successor in the module first, or retire the tokens one at a time.",
    ),
    Rule(
        "LWT304",
        "no-successor",
        Severity.HIGH,
        "A token is destroyed with no enabled successor for the same purpose.",
        "Without a successor (another enabled token of the same resource block or the same "
        "name stem, e.g. prod-v2 for prod-v1) its agents have no token to move to.",
        "Create the successor in this or an earlier change and move agents first.",
    ),
)

RULES: Final[Mapping[str, Rule]] = {item.id: item for item in _ALL}
_BY_NAME: Final = {item.name: item for item in _ALL}


def rule(id_or_name: str) -> Rule:
    """The rule with this id (``LWT101``, any case) or name (``token-destroyed``)."""
    found = RULES.get(id_or_name.upper()) or _BY_NAME.get(id_or_name.lower())
    if found is None:
        raise UnknownRuleError(f"no rule {id_or_name!r}; `lacework-tokens review --list-rules`")
    return found


def rule_ids(ids_or_names: Iterable[str]) -> frozenset[str]:
    """Rule ids for ids or names, several per item when comma-separated."""
    return frozenset(
        rule(part.strip()).id for item in ids_or_names for part in item.split(",") if part.strip()
    )
