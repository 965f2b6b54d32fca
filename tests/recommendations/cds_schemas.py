"""JSON Schemas (draft 2020-12) of the CDS Hooks 2.0 shapes we send and receive.

Written from the specification (https://cds-hooks.hl7.org/2.0/): Discovery response and CDS
Service; hook request; CDS Service response, Card, Source, Suggestion, Action, Link, Coding;
feedback request. The specification forbids null and empty values for members it does not say
may be empty ("JSON elements SHALL NOT be null or empty"): strings have minLength 1 and arrays
minItems 1 where that applies (the `cards` and `services` arrays may be empty).
"""

from typing import Any

from jsonschema import Draft202012Validator

_TEXT = {"type": "string", "minLength": 1}
_URL = {"type": "string", "pattern": r"^https?://\S+$"}
_EXTENSION = {"type": "object"}

CODING: dict[str, Any] = {
    "type": "object",
    "required": ["code", "system"],
    "properties": {"code": _TEXT, "system": _TEXT, "display": _TEXT},
    "additionalProperties": False,
}

OVERRIDE_REASON_CODING: dict[str, Any] = {**CODING, "required": ["code", "system", "display"]}

SOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["label"],
    "properties": {"label": _TEXT, "url": _URL, "icon": _URL, "topic": CODING},
    "additionalProperties": False,
}

ACTION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "description"],
    "properties": {
        "type": {"enum": ["create", "update", "delete"]},
        "description": _TEXT,
        "resource": {
            "type": "object",
            "required": ["resourceType"],
            "properties": {"resourceType": _TEXT},
        },
        "resourceId": _TEXT,
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"enum": ["create", "update"]}}},
            "then": {"required": ["resource"]},
        }
    ],
    "additionalProperties": False,
}

SUGGESTION: dict[str, Any] = {
    "type": "object",
    "required": ["label"],
    "properties": {
        "label": _TEXT,
        "uuid": {"type": "string", "format": "uuid", "minLength": 36},
        "isRecommended": {"type": "boolean"},
        "actions": {"type": "array", "minItems": 1, "items": ACTION},
    },
    "additionalProperties": False,
}

LINK: dict[str, Any] = {
    "type": "object",
    "required": ["label", "url", "type"],
    "properties": {
        "label": _TEXT,
        "url": _URL,
        "type": {"enum": ["absolute", "smart"]},
        "appContext": _TEXT,
    },
    "additionalProperties": False,
}

CARD: dict[str, Any] = {
    "type": "object",
    "required": ["summary", "indicator", "source"],
    "properties": {
        "uuid": {"type": "string", "minLength": 36},
        "summary": {"type": "string", "minLength": 1, "maxLength": 139},
        "detail": _TEXT,
        "indicator": {"enum": ["info", "warning", "critical"]},
        "source": SOURCE,
        "suggestions": {"type": "array", "minItems": 1, "items": SUGGESTION},
        "selectionBehavior": {"enum": ["at-most-one", "any"]},
        "overrideReasons": {"type": "array", "minItems": 1, "items": OVERRIDE_REASON_CODING},
        "links": {"type": "array", "minItems": 1, "items": LINK},
        "extension": _EXTENSION,
    },
    "dependentRequired": {"suggestions": ["selectionBehavior"]},
    "additionalProperties": False,
}

SERVICE_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["cards"],
    "properties": {
        "cards": {"type": "array", "items": CARD},
        "systemActions": {"type": "array", "minItems": 1, "items": ACTION},
    },
    "additionalProperties": False,
}

SERVICE: dict[str, Any] = {
    "type": "object",
    "required": ["hook", "description", "id"],
    "properties": {
        "hook": _TEXT,
        "title": _TEXT,
        "description": _TEXT,
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9._~-]+$"},
        "prefetch": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": _TEXT,
        },
        "usageRequirements": _TEXT,
        "extension": _EXTENSION,
    },
    "additionalProperties": False,
}

DISCOVERY: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "properties": {"services": {"type": "array", "items": SERVICE}},
    "additionalProperties": False,
}

HOOK_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": _TEXT,
        "hookInstance": _TEXT,
        "fhirServer": _URL,
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
        },
        "context": {
            "type": "object",
            "required": ["userId", "patientId"],
            "properties": {"userId": _TEXT, "patientId": _TEXT, "encounterId": _TEXT},
        },
        "prefetch": {"type": "object"},
        "extension": _EXTENSION,
    },
    "additionalProperties": False,
}

FEEDBACK_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["feedback"],
    "properties": {
        "feedback": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["card", "outcome", "outcomeTimestamp"],
                "properties": {
                    "card": _TEXT,
                    "outcome": {"enum": ["accepted", "overridden"]},
                    "acceptedSuggestions": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": _TEXT},
                        },
                    },
                    "overrideReason": {
                        "type": "object",
                        "properties": {"reason": CODING, "userComment": _TEXT},
                        "additionalProperties": False,
                    },
                    "outcomeTimestamp": _TEXT,
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """Every violation of `schema` by `instance`, as "path: message" lines (empty when valid)."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
