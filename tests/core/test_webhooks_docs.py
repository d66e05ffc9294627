"""docs/webhooks.md shows one real message per core event type, each valid against the JSON
Schema the API publishes for it, and documents every header Kedai sends."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jsonschema import Draft202012Validator

from core.events.payloads import PAYLOADS, json_schema

GUIDE = Path(__file__).parents[2] / "docs" / "webhooks.md"
EXAMPLE = re.compile(r"^### `([a-z_.]+)`\n.*?```json\n(.*?)\n```", re.S | re.M)


def examples() -> dict[str, dict]:
    return {kind: json.loads(body) for kind, body in EXAMPLE.findall(GUIDE.read_text("utf-8"))}


def test_every_core_event_type_has_one_example():
    assert sorted(examples()) == sorted(PAYLOADS)


def test_every_example_is_valid_against_its_published_schema():
    for kind, message in examples().items():
        assert message["type"] == kind
        errors = [e.message for e in Draft202012Validator(json_schema(kind)).iter_errors(message)]
        assert not errors, (kind, errors)
        if kind != "customer.erased":
            assert message["data"] != {"erased": True}, f"{kind}: show a real payload"


def test_every_header_sent_is_documented():
    import inspect

    from core.webhooks import service

    guide = GUIDE.read_text("utf-8")
    sent = re.findall(r'"((?:webhook|kedai)-[a-z-]+)":', inspect.getsource(service.send))
    assert len(sent) >= 6
    for header in sent:
        assert f"| `{header}` |" in guide, header
