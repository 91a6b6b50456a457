"""@tool: schemas from type hints and docstrings; argument validation before any call."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest

from workbench.tools import Constraint, ToolArgumentError, ToolSpec, tool


@tool(version="2.1", idempotent=True)
def transfer_status(user: str, reference: Annotated[str, Constraint(pattern=r"TR\d{6}")],
                    channel: Literal["app", "counter"] = "app", days: int | None = None) -> dict:
    """Where a transfer is.

    Args:
        reference: the transfer reference, TR + 6 digits.
        channel: where it was made.
    """
    return {"user": user, "reference": reference, "channel": channel, "days": days}


def test_schema_from_hints_and_docstring() -> None:
    s = transfer_status.schema()
    assert s["name"] == "transfer_status" and s["description"] == "Where a transfer is."
    props = s["parameters"]["properties"]
    assert set(props) == {"reference", "channel", "days"}            # 'user' is bound from the caller
    assert props["reference"] == {"type": "string", "pattern": r"TR\d{6}",
                                  "description": "the transfer reference, TR + 6 digits."}
    assert props["channel"]["enum"] == ["app", "counter"] and props["channel"]["default"] == "app"
    assert props["days"] == {"type": "integer", "default": None}
    assert s["parameters"]["required"] == ["reference"] and s["parameters"]["additionalProperties"] is False
    assert isinstance(transfer_status, ToolSpec) and transfer_status.context == ("user",)
    assert transfer_status.version == "2.1" and transfer_status.idempotent


@pytest.mark.parametrize(("args", "message"), [
    ({}, "missing required"),
    ({"reference": "TR123456", "user": "u999"}, "unknown argument"),     # cannot smuggle in another user
    ({"reference": "TR12"}, "must match"),
    ({"reference": 123456}, "must be of type string"),
    ({"reference": "TR123456", "channel": "atm"}, "must be one of"),
    ({"reference": "TR123456", "days": True}, "must be of type integer"),
    ({"reference": "TR123456", "days": "3"}, "must be of type integer"),
    ("TR123456", "must be a JSON object"),
])
def test_invalid_arguments_are_refused(args: object, message: str) -> None:
    with pytest.raises(ToolArgumentError, match=message):
        transfer_status.validate(args)


def test_valid_arguments_pass() -> None:
    assert transfer_status.validate({"reference": "TR123456", "days": None}) == {"reference": "TR123456", "days": None}
    assert transfer_status("u1", "TR000001")["channel"] == "app"


def test_bad_tool_definitions_fail_at_decoration() -> None:
    with pytest.raises(ValueError, match="docstring"):
        @tool
        def nodoc(x: int) -> int:
            return x
    with pytest.raises(TypeError, match="type hint"):
        @tool
        def nohint(x) -> int:  # type: ignore[no-untyped-def]
            """Doc."""
            return 1
    with pytest.raises(TypeError, match=r"\*args"):
        @tool
        def star(*xs: int) -> int:
            """Doc."""
            return 1
    with pytest.raises(ValueError, match="lower_snake_case"):
        tool(name="Bad-Name")(lambda: 1)
