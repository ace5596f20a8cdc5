"""``lacework-tokens keys``, ``accounts`` and ``audit``: administration on the server's database.

These commands open the database directly (a SQLite file or a ``postgresql://`` URL), so they
work whether the server is stopped or running: a running server reads each API key on every
request, so a key disabled or deleted here stops working at once.

- ``keys create`` prints the secret once, in an ``export`` line with the server's URL (or only
  writes it, mode 0600, to ``--key-file`` in Lacework's download format); nothing ever prints it
  again. ``keys list`` shows no secret.
- ``keys revoke-bearers KEY`` revokes the key's bearer tokens (or, with ``--bearer-stdin``,
  one of them) without touching the key; ``keys disable`` revokes them too.
- Without ``--db`` every command uses the database ``serve`` uses in this directory and refuses
  when there is none (run elsewhere, it would otherwise make an empty database the running
  server never sees); ``--db`` names one, which ``keys create`` and ``accounts create`` may
  create before the first ``serve``.
- ``accounts create NAME --parent ACME`` makes a sub-account: ACME's keys may then act in it by
  sending ``Account-Name: NAME``; ``keys create --account NAME`` makes a key confined to it.
  A key for an account name not seen before creates that name as a top-level account.
- ``audit`` reads the audit trail, newest first.

Changes made here are audited with the actor ``cli:<operating-system user>``. A failure is one
``lacework-tokens <command>: error: ...`` line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lacework_tokens import wire
from lacework_tokens.cli.env import export_line
from lacework_tokens.cli.output import (
    EXIT_FAILURE,
    EXIT_OK,
    print_error,
    print_help,
    print_json,
    print_table,
    table_time,
)
from lacework_tokens.cli.serve import positive_int
from lacework_tokens.files import make_private_dir, write_private
from lacework_tokens.server.storage.records import (
    AccountRecord,
    ApiKeyRecord,
    AuditEvent,
    Role,
    StoreError,
)
from lacework_tokens.state_dir import DEFAULT_DB, DEFAULT_URL, recorded_server, state_dir_of

__all__ = ["DEFAULT_DB", "add_accounts_command", "add_audit_command", "add_keys_command"]

_DB_HELP: Final = f"SQLite file or postgresql:// URL of the server (default: {DEFAULT_DB})"

if TYPE_CHECKING:  # imported lazily at run time: argument parsing stays light
    from lacework_tokens.server.services import Services


class _CommandError(Exception):
    """A failure to report as one line."""


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}"


@contextlib.contextmanager
def _service(given_db: str | None, *, may_create: bool) -> Iterator[Services]:
    """The services on ``given_db`` (``None``: serve's default here). A SQLite file that does not
    exist is an error unless ``may_create`` and the file was named (creating keys or accounts
    before the first ``serve`` is fine; creating a stray database by accident is not)."""
    from lacework_tokens.server.crypto import Sealer
    from lacework_tokens.server.services import Services
    from lacework_tokens.server.storage import is_postgres_url, open_store, reason_without_password

    db = given_db or DEFAULT_DB
    if not is_postgres_url(db):
        path = Path(db).expanduser()
        if not path.is_file():
            if not (may_create and given_db is not None):
                where = f"{db} (from {Path.cwd()})" if given_db is None else db
                raise _CommandError(
                    f"no database at {where}: run this where 'lacework-tokens serve' (make run) "
                    "keeps its state, or pass --db"
                )
            # Same protection as serve's state directory: it will hold the database.
            make_private_dir(path.parent)
    try:
        store = open_store(db)
    except StoreError as exc:
        raise _CommandError(
            reason_without_password(exc, db) or "cannot open the database"
        ) from None
    try:
        # Keys, accounts and the audit trail never touch sealed token values: no server key
        # file is needed, and none is created.
        services = Services(store, Sealer.ephemeral())
        try:
            yield services
        finally:
            services.close()
    finally:
        store.close()


def _run(command: str, action: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    def handler(args: argparse.Namespace) -> int:
        from lacework_tokens.server.services import ServiceError

        try:
            return action(args)
        except BrokenPipeError:
            raise  # the reader went away: main() ends quietly
        except (_CommandError, ServiceError, StoreError) as exc:
            print_error(str(exc), command)
        except OSError as exc:
            where = f"{exc.filename} " if exc.filename else ""
            print_error(f"{where}{exc.strerror or type(exc).__name__}", command)
        return EXIT_FAILURE

    return handler


def _time(value: datetime) -> str:
    """A time in ``--json``, as the wire writes it."""
    return wire.format_time(value)


# What ``--json`` shows of each record: JSON name -> attribute, in this order.
_KEY_JSON: Final = {
    "keyId": "key_id",
    "account": "account",
    "role": "role",
    "user": "user",
    "enabled": "enabled",
    "createdTime": "created_time",
}
_ACCOUNT_JSON: Final = {"name": "name", "parent": "parent", "createdTime": "created_time"}
_EVENT_JSON: Final = {
    "id": "id",
    "time": "time",
    "account": "account",
    "actor": "actor",
    "actorAccount": "actor_account",
    "action": "action",
    "tokenAlias": "token_alias",
    "tokenId": "token_id",
    "keyId": "key_id",
    "detail": "detail",
    "address": "address",
}


def _listing_json(
    record: ApiKeyRecord | AccountRecord | AuditEvent, shown: dict[str, str]
) -> dict[str, Any]:
    """A record as the admin commands print it: times as the wire writes them, enums by value,
    flags as the wire's 0 or 1."""

    def value(attribute: str) -> Any:
        found = getattr(record, attribute)
        if isinstance(found, datetime):
            return _time(found)
        if isinstance(found, enum.Enum):
            return found.value
        if isinstance(found, bool):
            return int(found)
        return found

    return {name: value(attribute) for name, attribute in shown.items()}


# --- keys -----------------------------------------------------------------------------------


def _write_key_file(path: Path, key: wire.ApiKeyFile) -> None:
    """Lacework's download format, readable by its owner only, never over an existing file."""
    text = json.dumps(wire.converter.unstructure(key), indent=2) + "\n"
    try:
        write_private(path, text, replace=False)
    except FileExistsError:
        raise _CommandError(
            f"{path} already exists: choose another --key-file (it may hold another secret)"
        ) from None


def _keys_create(args: argparse.Namespace) -> int:
    if args.key_file is not None and args.key_file.exists():
        raise _CommandError(
            f"{args.key_file} already exists: choose another --key-file (it may hold another "
            "secret)"
        )
    with _service(args.db, may_create=True) as services:
        key = services.identity.create_api_key(
            args.account, role=Role(args.role), user=args.user, actor=_actor()
        )
    home = key.sub_account or key.account
    summary = f"Created API key {key.key_id} (role {args.role}, user {args.user.strip()})"
    summary += f" in account {home}" + (f" of {key.account}" if key.sub_account else "")
    if args.key_file is not None:
        _write_key_file(args.key_file, key)
        print(f"{summary}; its secret is in {args.key_file} (readable by you only).")
        return EXIT_OK
    if args.json:
        print_json(wire.converter.unstructure(key))
        return EXIT_OK
    recorded = recorded_server(state_dir_of(args.db))
    variables = [("LW_ACCOUNT", key.account)]
    if key.sub_account:
        variables.append(("LW_SUBACCOUNT", key.sub_account))
    variables += [
        ("LW_API_KEY", key.key_id),
        ("LW_API_SECRET", key.secret),
        ("LW_API_SERVER_URL", recorded.url if recorded else DEFAULT_URL),
    ]
    print(f"{summary}.")
    print("The secret is shown only now; store it safely:")
    print(export_line(variables))
    return EXIT_OK


def _keys_list(args: argparse.Namespace) -> int:
    with _service(args.db, may_create=False) as services:
        keys = services.identity.list_api_keys(args.account)
    if args.json:
        print_json([_listing_json(key, _KEY_JSON) for key in keys])
        return EXIT_OK
    if not keys:
        print("No API keys.", file=sys.stderr)
        return EXIT_OK
    rows = [["KEY ID", "ACCOUNT", "ROLE", "USER", "STATE", "CREATED"]]
    rows += [
        [
            k.key_id,
            k.account,
            k.role.value,
            k.user,
            "enabled" if k.enabled else "disabled",
            table_time(k.created_time),
        ]
        for k in keys
    ]
    print_table(rows)
    return EXIT_OK


def _keys_set_enabled(enabled: bool) -> Callable[[argparse.Namespace], int]:
    def change(args: argparse.Namespace) -> int:
        with _service(args.db, may_create=False) as services:
            services.identity.set_api_key_enabled(args.key_id, enabled, actor=_actor())
        state = "enabled" if enabled else "disabled: its bearer tokens no longer work"
        print(f"API key {args.key_id} {state}.")
        return EXIT_OK

    return change


def _keys_revoke_bearers(args: argparse.Namespace) -> int:
    bearer = None
    if args.bearer_stdin:
        bearer = sys.stdin.readline().strip()
        if not bearer:
            raise _CommandError("no bearer token on standard input")
    with _service(args.db, may_create=False) as services:
        revoked = services.identity.revoke_bearers(args.key_id, bearer=bearer, actor=_actor())
    if bearer is not None:
        state = "revoked" if revoked else "was not found (expired, or of another key)"
        print(f"That bearer token of API key {args.key_id} {state}.")
    else:
        print(
            f"Revoked {revoked} bearer token{'' if revoked == 1 else 's'} of API key "
            f"{args.key_id}; the key stays enabled and can log in again."
        )
    return EXIT_OK


def _keys_delete(args: argparse.Namespace) -> int:
    with _service(args.db, may_create=False) as services:
        services.identity.delete_api_key(args.key_id, actor=_actor())
    print(f"API key {args.key_id} deleted: its bearer tokens no longer work.")
    return EXIT_OK


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help=_DB_HELP)


def add_keys_command(subparsers: Any) -> None:
    """Register ``keys`` (create, list, enable, disable, delete API keys)."""
    keys: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        help="manage the server's API keys (create, list, disable, enable, revoke-bearers, delete)",
        description="Manage API keys on the server's database, stopped or running. A key "
        "belongs to one account; a user has at most 20 keys per account. Roles: admin "
        "(everything), read-only (list, get, search), agent-installer (create and read agent "
        "tokens).",
    )
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys.set_defaults(handler=lambda _args: print_help(keys))

    create = actions.add_parser(
        "create",
        help="create an API key; its secret is shown once",
        description="Create an API key. The secret is printed once (or only written to "
        "--key-file, mode 0600, in Lacework's download format) and never shown again. An "
        "account name not seen before becomes a new top-level account; a sub-account name "
        "makes a key confined to that sub-account.",
    )
    create.add_argument(
        "--role", default=Role.ADMIN.value, choices=[r.value for r in Role], help="default: admin"
    )
    create.add_argument("--account", default="local", help="account of the key (default: local)")
    create.add_argument("--user", default="admin", help="user owning the key (default: admin)")
    _add_db(create)
    create.add_argument(
        "--key-file", type=Path, default=None, help="write the key here instead of printing it"
    )
    create.add_argument("--json", action="store_true", help="print the key file JSON")
    create.set_defaults(handler=_run("keys create", _keys_create))

    listing = actions.add_parser(
        "list", help="list API keys (never their secrets)", description="List API keys."
    )
    listing.add_argument("--account", default=None, help="only the keys of this account")
    _add_db(listing)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler=_run("keys list", _keys_list))

    for name, enabled, text in (
        ("disable", False, "disable an API key: its bearer tokens stop working at once"),
        ("enable", True, "enable a disabled API key again"),
    ):
        parser = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        parser.add_argument("key_id", metavar="KEY_ID")
        _add_db(parser)
        parser.set_defaults(handler=_run(f"keys {name}", _keys_set_enabled(enabled)))

    revoke = actions.add_parser(
        "revoke-bearers",
        help="revoke an API key's bearer tokens (all, or one from stdin); the key stays",
        description="Revoke the bearer tokens issued for an API key: they stop working at once, "
        "in every server on this database. The key itself stays enabled and can log in again. "
        "With --bearer-stdin only the one bearer token read from standard input is revoked "
        "(a leaked one: never put it on the command line).",
    )
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.add_argument(
        "--bearer-stdin",
        action="store_true",
        help="revoke only the bearer token given on standard input",
    )
    _add_db(revoke)
    revoke.set_defaults(handler=_run("keys revoke-bearers", _keys_revoke_bearers))

    delete = actions.add_parser(
        "delete",
        help="delete an API key: its bearer tokens stop working at once",
        description="Delete an API key and its bearer tokens. This cannot be undone.",
    )
    delete.add_argument("key_id", metavar="KEY_ID")
    _add_db(delete)
    delete.set_defaults(handler=_run("keys delete", _keys_delete))


# --- accounts -------------------------------------------------------------------------------


def _accounts_create(args: argparse.Namespace) -> int:
    with _service(args.db, may_create=True) as services:
        created = services.identity.create_account(args.name, parent=args.parent, actor=_actor())
    if created.parent:
        print(
            f"Created sub-account {created.name} of {created.parent}: keys of {created.parent} "
            f"may act in it with the header Account-Name: {created.name}."
        )
    else:
        print(f"Created account {created.name}.")
    return EXIT_OK


def _accounts_list(args: argparse.Namespace) -> int:
    with _service(args.db, may_create=False) as services:
        accounts = services.identity.list_accounts()
    if args.json:
        print_json([_listing_json(a, _ACCOUNT_JSON) for a in accounts])
        return EXIT_OK
    if not accounts:
        print("No accounts.", file=sys.stderr)
        return EXIT_OK
    rows = [["ACCOUNT", "PARENT", "CREATED"]]
    rows += [[a.name, a.parent or "-", table_time(a.created_time)] for a in accounts]
    print_table(rows)
    return EXIT_OK


def add_accounts_command(subparsers: Any) -> None:
    """Register ``accounts`` (create and list accounts and sub-accounts)."""
    accounts: argparse.ArgumentParser = subparsers.add_parser(
        "accounts",
        help="manage accounts and sub-accounts",
        description="Accounts own API keys and tokens. A sub-account belongs to a top-level "
        "account, whose keys may act in it by sending the header Account-Name: <sub-account> "
        "(LW_SUBACCOUNT in Lacework's clients).",
    )
    actions = accounts.add_subparsers(dest="accounts_command", metavar="ACTION")
    accounts.set_defaults(handler=lambda _args: print_help(accounts))

    create = actions.add_parser(
        "create",
        help="create an account, or a sub-account with --parent",
        description="Create a top-level account, or with --parent a sub-account of it.",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument("--parent", default=None, help="the top-level account it belongs to")
    _add_db(create)
    create.set_defaults(handler=_run("accounts create", _accounts_create))

    listing = actions.add_parser("list", help="list accounts", description="List accounts.")
    _add_db(listing)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler=_run("accounts list", _accounts_list))


# --- audit ----------------------------------------------------------------------------------


def _audit(args: argparse.Namespace) -> int:
    with _service(args.db, may_create=False) as services:
        events = services.audit.list_events(args.account, args.limit)
    if args.json:
        print_json([_listing_json(e, _EVENT_JSON) for e in events])
        return EXIT_OK
    if not events:
        print("No audit events.", file=sys.stderr)
        return EXIT_OK
    rows = [["TIME", "ACCOUNT", "ACTION", "ACTOR", "FROM", "SUBJECT", "DETAIL"]]
    for e in events:
        token = f"{e.token_alias} ({e.token_id})" if e.token_id is not None else None
        subject = token or e.key_id or "-"
        rows.append(
            [
                table_time(e.time),
                e.account,
                e.action.value,
                e.actor,
                e.address or "-",
                subject,
                e.detail,
            ]
        )
    print_table(rows)
    return EXIT_OK


def add_audit_command(subparsers: Any) -> None:
    """Register ``audit`` (read the audit trail)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="show the audit trail: changes, reads of token values, failed logins",
        description="Show events newest first: tokens created, updated, renamed, enabled, "
        "disabled and soft-deleted; reads that returned token values (get, list, search: "
        "which key, from which address, how many values); keys created, disabled, enabled, "
        "deleted and their bearer tokens revoked; accounts created; failed logins (with the "
        "client's address). Reads and failed logins are written in batches, within a second. "
        "Tokens are named by alias and a short id (a prefix of their keyed hash), never by "
        "value.",
    )
    _add_db(parser)
    parser.add_argument("--account", default=None, help="only events in this account")
    parser.add_argument(
        "--limit", type=positive_int, default=100, help="at most this many events (default: 100)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=_run("audit", _audit))
