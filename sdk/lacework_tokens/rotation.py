"""Rotating an agent access token: ``client.agent_tokens.rotate`` and ``retire``.

Lacework's advice is to create a new token, move every agent to it, and only then disable the
old one. ``rotate`` does the first step, ``retire`` the last, and refuses while agents still use
the old token:

```python
rotation = client.agent_tokens.rotate(old.token)            # prod-v1 -> prod-v2, both enabled
...                                                         # agents move to rotation.new
client.agent_tokens.retire(old.token, idle_for=timedelta(days=7))   # TokenInUseError while not
```

**How a successor is recognised.** By its name: ``new_name``, by default the old name with its
generation raised (``prod`` → ``prod-v2``, ``prod-v2`` → ``prod-v3``, as in the Terraform
rotation example). Names are unique in an account, so a rotation interrupted at any step (before
the create, during it, after it) is resumed by running it again with the same arguments: a token
with that name and the settings a successor would have *is* the successor, and is returned
instead of a second one. A token with that name but other settings is a ``ConflictError``. The
name works against Lacework itself, which keeps no link between tokens.

**When a token is idle.** ``retire`` disables the token only when no agent enrolled with it
checked in within ``idle_for``: the token's usage says when one last did, and AgentInfo (agents
tagged with the token's first 30 characters) names the agents seen in the window. Otherwise it
raises ``TokenInUseError`` with their number, their last check-in and their host names.
``force=True`` disables it anyway. The disabling PATCH carries ``wire.RETIRE_HEADER``: the
backend checks again itself (an agent may have checked in meanwhile) and records the retire,
forced or not, with the agents it counted, in its audit trail; Lacework ignores the header.
Retiring a token that is already disabled changes nothing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from attrs import frozen

from lacework_tokens import errors, limits, wire
from lacework_tokens.wire import KEEP, Agent, AgentAccessToken, Keep

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens
    from lacework_tokens.agents import Agents

__all__ = [
    "DEFAULT_IDLE_FOR",
    "Activity",
    "Retirement",
    "Rotation",
    "activity",
    "rotate",
    "successor_name",
]

DEFAULT_IDLE_FOR: Final = timedelta(days=7)
# The usage endpoint counts in whole hours, at most a year and a day back.
_USAGE_HOURS_MAX: Final = 24 * 366
# Host names an error lists before it says "and N more".
_HOSTNAMES_SHOWN: Final = 5

_GENERATION: Final = re.compile(r"(?P<base>.+)-v(?P<generation>[1-9][0-9]{0,8})")


def successor_name(name: str) -> str:
    """``prod`` → ``prod-v2``; ``prod-v2`` → ``prod-v3``."""
    match = _GENERATION.fullmatch(name)
    if match is None:
        return f"{name}-v2"
    return f"{match.group('base')}-v{int(match.group('generation')) + 1}"


@frozen
class Rotation:
    """A token and its successor. ``created`` is ``False`` when the successor already existed
    (a rotation resumed or run twice)."""

    old: AgentAccessToken
    new: AgentAccessToken
    created: bool


def _value(token: str | AgentAccessToken) -> str:
    return token.token if isinstance(token, AgentAccessToken) else token


def _conflict(message: str) -> errors.ConflictError:
    return errors.ConflictError(message, status=409, method="", path="")


def rotate(
    tokens: AgentTokens,
    old: str | AgentAccessToken,
    *,
    new_name: str | None = None,
    description: str | None = None,
    os: str | None = None,
    expires_in: timedelta | Keep | None = KEEP,
    max_enrollments: int | Keep | None = KEEP,
    scope: str | Keep | None = KEEP,
) -> Rotation:
    """The successor of ``old`` (created unless it exists), with ``old`` as it is now.

    Description, os and enrollment policy are the old token's unless given: the successor
    admits as many enrollments and the same scope, and expires as long after its creation as
    the old one did after its own (``expires_in`` sets that lifetime; ``None`` removes a limit).
    """
    current = tokens.get(_value(old))
    if new_name is None:
        if current.soft_deleted:
            raise _conflict(f"'{current.name}' is soft-deleted; name its successor with new_name")
        new_name = successor_name(current.name)
    if new_name == current.name:
        raise _conflict(f"a successor needs a name other than '{current.name}'")
    wanted_description = current.description if description is None else description
    wanted_os = current.os if os is None else os
    wanted_enrollments = current.max_enrollments if max_enrollments is KEEP else max_enrollments
    wanted_scope = current.scope if scope is KEEP else scope
    if expires_in is KEEP:
        expires_in = (
            None if current.expires_at is None else current.expires_at - current.created_time
        )

    def successor(found: AgentAccessToken) -> AgentAccessToken:
        problems = [
            what
            for what, differs in (
                (f"its os is {found.os!r}, not {wanted_os!r}", found.os != wanted_os),
                ("its description differs", found.description != wanted_description),
                (
                    f"it admits {found.max_enrollments} enrollments, not {wanted_enrollments}",
                    found.max_enrollments != wanted_enrollments,
                ),
                (
                    f"its scope is {found.scope!r}, not {wanted_scope!r}",
                    found.scope != wanted_scope,
                ),
                ("it is disabled", not found.enabled),
                ("it is the token being rotated", found.token == current.token),
            )
            if differs
        ]
        if problems:
            raise _conflict(
                f"a token named '{new_name}' exists but is not a successor of "
                f"'{current.name}': {'; '.join(problems)}; choose another new_name"
            )
        return found

    existing = tokens.find(new_name)
    if existing is not None:
        return Rotation(current, successor(existing), created=False)
    try:
        created = tokens.create(
            new_name,
            description=wanted_description,
            os=wanted_os,
            expires_at=None if expires_in is None else datetime.now(UTC) + expires_in,
            max_enrollments=wanted_enrollments,
            scope=wanted_scope,
        )
    except errors.ConflictError:
        # Created meanwhile (another run of the same rotation): it must be a successor too.
        raced = tokens.find(new_name)
        if raced is None:
            raise
        return Rotation(current, successor(raced), created=False)
    return Rotation(current, created, created=True)


# --- retiring -------------------------------------------------------------------------------


@frozen
class Retirement:
    """A retired token as it is now. ``changed`` is ``False`` when it was disabled already;
    ``forced`` when agents had checked in within the window (``active`` names them)."""

    token: AgentAccessToken
    changed: bool
    forced: bool = False
    active: tuple[Agent, ...] = ()


@frozen
class Activity:
    """The agents of a token that checked in since ``since``, newest check-in first."""

    since: datetime
    agents: tuple[Agent, ...]
    last_checkin: datetime | None

    def in_use_error(self, token: AgentAccessToken, idle_for: timedelta) -> errors.TokenInUseError:
        count = len(self.agents)
        hostnames = tuple(agent.hostname for agent in self.agents)
        shown = ", ".join(hostnames[:_HOSTNAMES_SHOWN])
        if count > _HOSTNAMES_SHOWN:
            shown += f" and {count - _HOSTNAMES_SHOWN} more"
        last = (
            f", the last at {wire.format_time(self.last_checkin)}"
            if self.last_checkin is not None
            else ""
        )
        return errors.TokenInUseError(
            f"{count} agent{'' if count == 1 else 's'} enrolled with '{token.name}' checked in "
            f"within the last {limits.duration_words(idle_seconds(idle_for))}{last} ({shown}): "
            "move them to another token, or retire it with force",
            token_name=token.name,
            active=count,
            idle_for=idle_for,
            last_checkin=self.last_checkin,
            hostnames=hostnames,
        )


def idle_seconds(idle_for: timedelta) -> int:
    """``idle_for`` in whole seconds, rounded up; at least one."""
    seconds = idle_for.total_seconds()
    if seconds <= 0:
        raise ValueError("idle_for must be longer than zero")
    return max(1, math.ceil(seconds))


def activity(
    tokens: AgentTokens, agents: Agents, token: AgentAccessToken, idle_for: timedelta
) -> Activity:
    """Who used ``token`` within ``idle_for``: the token's usage says when an agent last
    checked in (one request, however many agents); only when that is within the window are the
    agents read from AgentInfo. Without the usage endpoint (Lacework itself) AgentInfo answers
    alone."""
    now = datetime.now(UTC)
    since = now - idle_for
    try:
        hours = min(_USAGE_HOURS_MAX, max(1, math.ceil(idle_for / timedelta(hours=1))))
        last = tokens.usage(token.token, active_hours=hours).last_checkin
    except errors.NotFoundError:
        last = now  # no usage endpoint: ask AgentInfo
    if last is None or last < since:
        return Activity(since, (), last)
    seen = sorted(
        (
            agent
            for agent in agents.list(since, token=token.token)
            if agent.uses(token.token) and agent.last_update >= since
        ),
        key=lambda agent: agent.last_update,
        reverse=True,
    )
    return Activity(since, tuple(seen), seen[0].last_update if seen else None)
