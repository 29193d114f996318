"""Free text in requests: which characters a name or a note may hold, one rule for every field.

Control characters (Unicode's ``Cc``: the C0 range, DEL and the C1 range) are invisible, make
exports and logs lie or fail (one ``\\x01`` in a lead's name made its workbook a 500), and
PostgreSQL can't store NUL at all; lone surrogates (a JSON ``"\\ud800"``) can't be stored as UTF-8.
So:

* :data:`SingleLine` — names, contacts, search terms: none of them;
* :data:`MultiLine` — notes, comments, reasons, postal addresses: line feeds and tabs are kept,
  a carriage return (alone or before a line feed) is stored as a line feed, the rest refused.

A refused value is a 422 naming the field, the character and its position. The OpenAPI document
carries the same rule as a ``pattern``. Uploaded file names follow the single-line rule
(:func:`check_text`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_SINGLE = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"
_MULTI = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
_REFUSED = {False: re.compile(f"[{_SINGLE}]"), True: re.compile(f"[{_MULTI}]")}
# The same classes as JSON Schema (ECMA-262) patterns, for the OpenAPI document.
_PATTERNS = {
    False: "^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$",
    True: "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$",
}
_LINE_BREAK = re.compile(r"\r\n?")


def refused_character(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The first character ``text`` may not hold (its position and the character), or None."""
    found = _REFUSED[multiline].search(text)
    return None if found is None else (found.start(), found.group())


def describe(position: int, char: str) -> str:
    """The refusal's wording, e.g. ``control character U+0001 at position 4``."""
    kind = "an unpaired surrogate" if 0xD800 <= ord(char) <= 0xDFFF else "a control character"
    return f"{kind} (U+{ord(char):04X}) at position {position} is not allowed"


def check_text(text: str, *, multiline: bool = False) -> str:
    """``text`` as it is stored (line breaks as LF when ``multiline``); ValueError when it holds
    a refused character."""
    if multiline:
        text = _LINE_BREAK.sub("\n", text)
    refused = refused_character(text, multiline=multiline)
    if refused is not None:
        raise ValueError(describe(*refused))
    return text


class _Text:
    """pydantic metadata applying :func:`check_text` and documenting it as a pattern."""

    def __init__(self, *, multiline: bool) -> None:
        self.multiline = multiline

    def _validate(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value  # not text: the string validation refuses it
        try:
            return check_text(value, multiline=self.multiline)
        except ValueError as exc:
            raise PydanticCustomError("control_character", str(exc)) from None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Check the characters as sent — before whitespace is stripped, so that a trailing
        vertical tab or NEL is refused like any other — then validate the string."""
        return core_schema.no_info_before_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The string's schema with the rule as its pattern."""
        json_schema = handler(schema)
        json_schema["pattern"] = _PATTERNS[self.multiline]
        return json_schema


SINGLE_LINE = _Text(multiline=False)
MULTI_LINE = _Text(multiline=True)
SingleLine = Annotated[str, SINGLE_LINE]
MultiLine = Annotated[str, MULTI_LINE]
