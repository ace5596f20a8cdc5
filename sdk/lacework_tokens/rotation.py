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
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from attrs import frozen

from lacework_tokens import errors
from lacework_tokens.wire import AgentAccessToken

if TYPE_CHECKING:
    from lacework_tokens.agent_tokens import AgentTokens

__all__ = ["Rotation", "rotate", "successor_name"]

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
) -> Rotation:
    """The successor of ``old`` (created unless it exists), with ``old`` as it is now."""
    current = tokens.get(_value(old))
    if new_name is None:
        if current.soft_deleted:
            raise _conflict(f"'{current.name}' is soft-deleted; name its successor with new_name")
        new_name = successor_name(current.name)
    if new_name == current.name:
        raise _conflict(f"a successor needs a name other than '{current.name}'")
    wanted_description = current.description if description is None else description
    wanted_os = current.os if os is None else os

    def successor(found: AgentAccessToken) -> AgentAccessToken:
        problems = [
            what
            for what, differs in (
                (f"its os is {found.os!r}, not {wanted_os!r}", found.os != wanted_os),
                ("its description differs", found.description != wanted_description),
                ("it is disabled", not found.enabled),
                ("it is the token being rotated", found.token == current.token),
            )
            if differs
        ]
        if problems:
            raise _conflict(
                f"a token named '{new_name}' exists but is not a successor of "
                f"'{current.name}': {'; '.join(problems)}. Choose another new_name."
            )
        return found

    existing = tokens.find(new_name)
    if existing is not None:
        return Rotation(current, successor(existing), created=False)
    try:
        created = tokens.create(new_name, description=wanted_description, os=wanted_os)
    except errors.ConflictError:
        # Created meanwhile (another run of the same rotation): it must be a successor too.
        raced = tokens.find(new_name)
        if raced is None:
            raise
        return Rotation(current, successor(raced), created=False)
    return Rotation(current, created, created=True)
