"""The backend's OpenAPI 3.1 document, served at ``GET /openapi.json``.

Paths, methods, bodies, answers, statuses and security come from the route table
(``routes.py``), which also drives the router; the schemas are built from the wire and ``limits``
constants (lengths, search fields, expressions, expiry bounds), so the document and the rules it
describes cannot drift apart. Bodies are described as the server accepts them: unknown
properties are tolerated (the Go SDK sends ``props.createdTime``), so no request object forbids
additional properties.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Final

from lacework_tokens import __version__, limits, wire
from lacework_tokens.limits import SEARCH_VALUES_MAX, TOKEN_VALUE_MAX_LENGTH
from lacework_tokens.server.routes import ROUTES, Access, Envelope, Operation
from lacework_tokens.server.services.agents import (
    ACTIVE_HOURS_MAX,
    ACTIVE_WINDOW,
    AGENT_FIELDS,
    USAGE_TOKENS_MAX,
)
from lacework_tokens.server.services.tokens import SEARCH_FIELDS, SUBSCRIPTIONS

__all__ = ["openapi_document", "openapi_json"]

_JSON: Final = "application/json"
_REF: Final = "#/components/schemas/"
# Characters a name may not hold: controls (Cc), surrogates (Cs), line and paragraph separators.
_CONTROL: Final = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"
_WIRE_TIME: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"

_ERROR_TEXT: Final[dict[int, str]] = {
    400: "The request is malformed; the message names the field at fault.",
    401: "Missing, unknown or expired credentials (an API bearer token, or an agent's token).",
    403: "The API key's role or account does not allow this (roles, Account-Name); for an "
    "agent, its token's policy: disabled, expired, used up, or another scope.",
    404: "No such agent access token in this account, or no such agent of this token.",
    408: "The client took longer than the server's body timeout to send its request.",
    409: "Another token of this account already has this name.",
    413: "The request body is larger than the server accepts.",
    429: "Too many requests: wait Retry-After seconds.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {_JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        answer: dict[str, Any] = {"description": _ERROR_TEXT[status], **_json_body(_ref("Error"))}
        if status == 429:
            answer["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
        answers[str(status)] = answer
    return answers


def _name_schema(max_length: int) -> dict[str, Any]:
    inner = f"[^{_CONTROL}]"
    edge = f"[^\\s{_CONTROL}]"
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": f"^{edge}({inner}*{edge})?$",
        "description": "No control characters and no surrounding whitespace.",
    }


def _policy_props(time_schema: dict[str, Any], *, nullable: bool) -> dict[str, Any]:
    """The enrollment policy in ``props`` (this project's extension): present only when set;
    in a PATCH, null clears one."""
    props: dict[str, Any] = {
        "expiresAt": {
            **time_schema,
            "description": "Enrollments are refused from this time on; enrolled agents keep "
            "checking in. In a create it must lie in the future.",
        },
        "maxEnrollments": {
            "type": "integer",
            "minimum": 1,
            "maximum": limits.ENROLLMENTS_MAX,
            "description": "How many agents may enroll with the token; 1 is single-use.",
        },
        "scope": {
            "type": "string",
            "pattern": f"^{limits.SCOPE_NAME.pattern}$",
            "description": "The asset group enrolled agents join (their tag Scope).",
        },
    }
    if nullable:
        return {name: {"anyOf": [schema, {"type": "null"}]} for name, schema in props.items()}
    return props


def _schemas() -> dict[str, Any]:
    time_schema = {"type": "string", "format": "date-time", "pattern": _WIRE_TIME}
    enabled = {"type": "integer", "enum": [0, 1], "description": "1 enabled, 0 disabled."}
    subscription = {"type": "string", "enum": sorted(SUBSCRIPTIONS)}
    filter_value = {"type": ["string", "integer"]}
    return {
        "Error": {
            "type": "object",
            "required": ["message"],
            "additionalProperties": False,
            "properties": {"message": {"type": "string", "minLength": 1}},
        },
        "AccessTokenRequest": {
            "type": "object",
            "required": ["keyId"],
            "properties": {
                "keyId": {"type": "string", "description": "The API key id."},
                "expiryTime": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.EXPIRY_MAX_SECONDS,
                    "default": limits.EXPIRY_DEFAULT_SECONDS,
                    "description": "Lifetime of the bearer token in seconds.",
                },
            },
        },
        "AccessTokenResponse": {
            "type": "object",
            "required": ["token", "expiresAt"],
            "properties": {
                "token": {"type": "string", "minLength": 1},
                "expiresAt": time_schema,
            },
        },
        "TokenProps": {
            "type": "object",
            "properties": {
                "description": {"type": "string", "maxLength": limits.DESCRIPTION_MAX_LENGTH},
                "os": {"type": "string", "enum": list(limits.OS_VALUES)},
                "subscription": subscription,
                "createdTime": {
                    "type": "string",
                    "description": "Ignored: the server owns every time.",
                },
                **_policy_props(time_schema, nullable=True),
            },
        },
        "CreateAgentTokenRequest": {
            "type": "object",
            "required": ["tokenAlias"],
            "properties": {
                "tokenAlias": _name_schema(limits.ALIAS_MAX_LENGTH),
                "tokenEnabled": {**enabled, "default": 1},
                "props": _ref("TokenProps"),
            },
        },
        "UpdateAgentTokenRequest": {
            "type": "object",
            "description": "Absent fields stay as they are; props are merged key by key.",
            "properties": {
                "tokenAlias": {
                    **_name_schema(limits.SOFT_DELETE_MAX_LENGTH),
                    "description": f"At most {limits.ALIAS_MAX_LENGTH} characters, or "
                    f"{limits.SOFT_DELETE_MAX_LENGTH} for a soft-deleted name ending in -deleted.",
                },
                "tokenEnabled": enabled,
                "props": _ref("TokenProps"),
            },
        },
        "SearchFilter": {
            "type": "object",
            "required": ["field", "expression"],
            "properties": {
                "field": {"type": "string", "enum": sorted(SEARCH_FIELDS)},
                "expression": {"type": "string", "enum": [e.value for e in wire.Expression]},
                "value": {**filter_value, "description": "For every expression but in."},
                "values": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": SEARCH_VALUES_MAX,
                    "items": filter_value,
                    "description": "For in.",
                },
            },
        },
        "SearchRequest": {
            "type": "object",
            "properties": {
                "filters": {
                    "type": "array",
                    "maxItems": limits.SEARCH_FILTERS_MAX,
                    "items": _ref("SearchFilter"),
                    "description": f"All must match; at most {limits.SEARCH_VALUES_MAX} values "
                    "in all (each value of an in counts).",
                }
            },
        },
        "AgentAccessToken": {
            "type": "object",
            "required": [
                "accessToken",
                "createdTime",
                "props",
                "tokenAlias",
                "tokenEnabled",
                "version",
            ],
            "properties": {
                "accessToken": {"type": "string", "description": "The secret token value."},
                "createdTime": {**time_schema, "description": "Time of the last update."},
                "props": {
                    "type": "object",
                    "required": ["createdTime", "description", "os"],
                    "properties": {
                        "createdTime": {**time_schema, "description": "Time of creation."},
                        "description": {"type": "string"},
                        "os": {"type": "string"},
                        "subscription": subscription,
                        **_policy_props(time_schema, nullable=False),
                    },
                },
                "tokenAlias": {"type": "string"},
                "tokenEnabled": enabled,
                "version": {"type": "string"},
            },
        },
        "Agent": {
            "type": "object",
            "description": "An AgentInfo record. status: ACTIVE (seen within the last "
            f"{int(ACTIVE_WINDOW.total_seconds() // 60)} minutes), INACTIVE, or TOKEN_DISABLED "
            "(its token is disabled: it can no longer check in).",
            "properties": {
                "agentVersion": {"type": "string"},
                "createdTime": time_schema,
                "hostname": {"type": "string"},
                "ipAddr": {"type": "string"},
                "lastUpdate": {**time_schema, "description": "The last check-in."},
                "mid": {"type": "integer", "minimum": 1},
                "mode": {"type": "string"},
                "os": {"type": "string", "enum": ["Linux", "Windows"]},
                "status": {"type": "string", "enum": [s.value for s in wire.AgentStatus]},
                "tags": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "The agent's tags; LwTokenShort is the first "
                    f"{limits.TOKEN_SHORT_LENGTH} characters of its token, Scope its token's "
                    "scope.",
                },
            },
        },
        "AgentAnswer": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _ref("Agent")},
        },
        "AgentPage": {
            "type": "object",
            "required": ["data", "paging"],
            "properties": {
                "data": {"type": "array", "items": _ref("Agent")},
                "paging": {
                    "type": "object",
                    "required": ["rows", "totalRows", "urls"],
                    "properties": {
                        "rows": {"type": "integer", "minimum": 0},
                        "totalRows": {"type": "integer", "minimum": 0},
                        "urls": {
                            "type": "object",
                            "required": ["nextPage"],
                            "properties": {
                                "nextPage": {
                                    "type": ["string", "null"],
                                    "description": "The next page's path; null on the last.",
                                }
                            },
                        },
                    },
                },
            },
        },
        "AgentSearchRequest": {
            "type": "object",
            "description": "Every part is optional; null is the same as absent.",
            "properties": {
                "timeFilter": {
                    "type": ["object", "null"],
                    "description": "Agents enrolled before endTime and seen after startTime; "
                    "the last 24 hours when absent.",
                    "properties": {
                        "startTime": {"type": ["string", "null"], "format": "date-time"},
                        "endTime": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "filters": {
                    "type": ["array", "null"],
                    "items": _ref("SearchFilter"),
                    "description": "Fields: " + ", ".join(AGENT_FIELDS) + ". rlike matches "
                    "the whole value (RE2 syntax).",
                },
                "returns": {
                    "type": ["array", "null"],
                    "items": {"type": "string"},
                    "description": "The fields to answer; all when absent.",
                },
            },
        },
        "AgentEnrollmentRequest": {
            "type": "object",
            "required": ["hostname"],
            "properties": {
                "hostname": _name_schema(limits.HOSTNAME_MAX_LENGTH),
                "os": {"type": "string", "enum": list(limits.OS_VALUES)},
                "arch": _name_schema(limits.LABEL_MAX_LENGTH),
                "agentVersion": {"type": "string", "maxLength": 64},
                "mode": _name_schema(limits.LABEL_MAX_LENGTH),
                "ipAddr": {"type": "string", "maxLength": 64},
                "tags": {
                    "type": "object",
                    "maxProperties": limits.TAGS_MAX,
                    "additionalProperties": {
                        "type": "string",
                        "maxLength": limits.TAG_VALUE_MAX_LENGTH,
                    },
                    "description": "Keys the server sets are refused: "
                    + ", ".join(sorted(limits.RESERVED_TAGS)),
                },
                "scope": {
                    "type": "string",
                    "pattern": f"^{limits.SCOPE_NAME.pattern}$",
                    "description": "The asset group the agent asks to join: the token's scope.",
                },
            },
        },
        "AgentCheckinRequest": {
            "type": "object",
            "required": ["mid"],
            "properties": {"mid": {"type": "integer", "minimum": 1, "maximum": wire.MID_MAX}},
        },
        "TokenUsageRequest": {
            "type": "object",
            "required": ["accessTokens"],
            "properties": {
                "accessTokens": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": USAGE_TOKENS_MAX,
                    "items": {"type": "string"},
                },
                "activeHours": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": ACTIVE_HOURS_MAX,
                    "default": 24,
                    "description": "An agent is active when it checked in within these hours.",
                },
            },
        },
        "TokenUsage": {
            "type": "object",
            "required": ["accessToken", "enrolled", "active", "activeHours", "lastCheckin"],
            "properties": {
                "accessToken": {"type": "string"},
                "enrolled": {"type": "integer", "minimum": 0},
                "active": {"type": "integer", "minimum": 0},
                "activeHours": {"type": "integer", "minimum": 1},
                "lastCheckin": {"anyOf": [time_schema, {"type": "null"}]},
            },
        },
        "TokenUsageAnswer": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "array", "items": _ref("TokenUsage")}},
        },
        "TokenAnswer": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _ref("AgentAccessToken")},
        },
        "TokenListAnswer": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "array", "items": _ref("AgentAccessToken")}},
        },
        "UserProfile": {
            "type": "object",
            "required": ["username", "orgAccount", "url", "orgAdmin", "orgUser", "accounts"],
            "properties": {
                "username": {"type": "string"},
                "orgAccount": {"type": "boolean", "description": "The account has sub-accounts."},
                "url": {
                    "type": "string",
                    "description": "The key's top-level account as <account>.lacework.net.",
                },
                "orgAdmin": {"type": "boolean"},
                "orgUser": {"type": "boolean"},
                "accounts": {
                    "type": "array",
                    "description": "The accounts the key may act in (Account-Name).",
                    "items": {
                        "type": "object",
                        "required": ["admin", "accountName", "custGuid", "userGuid", "userEnabled"],
                        "properties": {
                            "admin": {"type": "boolean"},
                            "accountName": {"type": "string"},
                            "custGuid": {"type": "string"},
                            "userGuid": {"type": "string"},
                            "userEnabled": enabled,
                        },
                    },
                },
            },
        },
        "UserProfileAnswer": {
            "type": "object",
            "required": ["data"],
            "properties": {"data": {"type": "array", "items": _ref("UserProfile")}},
        },
    }


# How an answer wrapped in {"data": ...} is named among the schemas, by the model it holds.
_DATA_SCHEMAS: Final[dict[tuple[type[Any], Envelope], str]] = {
    (wire.AgentAccessToken, Envelope.DATA): "TokenAnswer",
    (wire.AgentAccessToken, Envelope.DATA_LIST): "TokenListAnswer",
    (wire.AgentAccessToken, Envelope.DATA_PAGES): "TokenListAnswer",
    (wire.UserProfile, Envelope.DATA_LIST): "UserProfileAnswer",
    (wire.Agent, Envelope.DATA): "AgentAnswer",
    (wire.TokenUsage, Envelope.DATA_LIST): "TokenUsageAnswer",
}
_PATH_PARAMETERS: Final[dict[str, dict[str, Any]]] = {
    "accessToken": {
        "name": "accessToken",
        "in": "path",
        "required": True,
        "description": "The token value (this server mints 56 lowercase hex characters).",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": TOKEN_VALUE_MAX_LENGTH,
            "pattern": "^[0-9a-f]+$",
        },
    },
    "page": {
        "name": "page",
        "in": "path",
        "required": True,
        "description": "What the previous page's paging.urls.nextPage named.",
        "schema": {"type": "string", "minLength": 1},
    },
}
_PARAMETER: Final = re.compile(r"\{(\w+)\}")


def _answer_schema(operation: Operation[Any]) -> dict[str, Any]:
    if operation.envelope is Envelope.JSON:
        return dict(operation.schema or {})
    if operation.response is None:  # pragma: no cover - every other answer names its model
        raise ValueError(f"{operation.operation_id}: no response model")
    if operation.envelope is Envelope.BARE:
        return _ref(operation.response.__name__)
    return _ref(_DATA_SCHEMAS[operation.response, operation.envelope])


def _operation(operation: Operation[Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": operation.operation_id,
    }
    if operation.access is Access.PUBLIC:
        document["security"] = []
    else:
        document["security"] = [{operation.access.value: []}]
    parameters = [{"$ref": f"#/components/parameters/{name}"} for name in operation.headers]
    if operation.access is Access.BEARER:
        parameters.insert(0, {"$ref": "#/components/parameters/AccountName"})
    if parameters:
        document["parameters"] = parameters
    if operation.request is not None:
        document["requestBody"] = {
            "required": True,
            **_json_body(_ref(operation.request.__name__)),
        }
    success = {"description": operation.answer, **_json_body(_answer_schema(operation))}
    document["responses"] = {str(operation.status): success, **_errors(*operation.errors)}
    return document


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in ROUTES:
        item: dict[str, Any] = {}
        parameters = [_PATH_PARAMETERS[name] for name in _PARAMETER.findall(route.path)]
        if parameters:
            item["parameters"] = parameters
        for operation in route.operations:
            item[operation.method.lower()] = _operation(operation)
        paths[route.path] = item
    return paths


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route this server answers."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lacework-tokens backend: Lacework API v2 agent access tokens",
            "version": __version__,
            "description": 'Errors are {"message": ...}. A method a route does not serve is '
            "answered 405 with Allow; there is no DELETE: tokens are only disabled.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "A bearer token from POST /api/v2/access/tokens, sent raw "
                    "(Go SDK) or as 'Bearer <token>'.",
                },
                "apiSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-LW-UAKS",
                    "description": "The API key's secret; the key id goes in the body.",
                },
                "agentToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "An agent access token, raw or as 'Bearer <token>': it "
                    "authenticates enrollment and check-in, and nothing else (this server's "
                    "extension: Lacework's own agent protocol is not public).",
                },
            },
            "parameters": {
                "AccountName": {
                    "name": "Account-Name",
                    "in": "header",
                    "required": False,
                    "description": "Act in this sub-account of the key's account.",
                    "schema": {"type": "string"},
                },
                "Retire": {
                    "name": wire.RETIRE_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "This server's extension, sent by the SDK's retire with a "
                    "PATCH that disables the token: idle-for=<seconds>[; force]. The server "
                    "answers 409 while an agent enrolled with the token checked in within that "
                    "time, unless '; force' is given, and records the retire (forced or not, "
                    "with the agents it counted) in its audit trail. Lacework ignores it.",
                    "schema": {"type": "string", "pattern": r"^idle-for=[0-9]+(; ?force)?$"},
                },
            },
            "headers": {
                "RetryAfter": {
                    "description": "Whole seconds to wait before trying again.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "schemas": _schemas(),
        },
    }


@functools.cache
def openapi_json() -> bytes:
    """The document as served: built once, compact."""
    return json.dumps(openapi_document(), separators=(",", ":")).encode()
