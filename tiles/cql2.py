"""CQL2-text, Basic CQL2 plus the advanced comparison operators, parsed strictly into bound SQL.

Grammar (OGC 21-065, the classes ``basic-cql2`` and ``advanced-comparison-operators``)::

    expr      := term (OR term)*
    term      := factor (AND factor)*
    factor    := NOT factor | '(' expr ')' | predicate | TRUE | FALSE
    predicate := operand compOp operand
               | operand IS [NOT] NULL
               | property [NOT] LIKE 'pattern'
               | operand [NOT] BETWEEN operand AND operand
               | operand [NOT] IN '(' operand (',' operand)* ')'
    operand   := property | 'string' | number | TRUE | FALSE | DATE('…') | TIMESTAMP('…')

Both sides of a comparison must have the same type (``section = 5`` and ``contenance > TRUE`` are
400s), ``<``/``>`` are not defined on booleans, LIKE only on strings, BETWEEN only on numbers, and
anything left after the expression (``a = 1 AND``) is a 400. NULL follows SQL's three-valued logic,
as CQL2 specifies: a comparison with a NULL property is unknown and the feature is not returned.
Values are always bound (``$n``); property SQL comes from the layer registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from geo.errors import BadRequest
from tiles.layers import Layer

# The classes this module implements; /ogc/conformance declares exactly these (and Filter's).
CONFORMANCE = (
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
)
TYPES = {"String": "text", "Number": "float8", "Boolean": "boolean"}
_COMPARE = {"=", "<>", "<", "<=", ">", ">="}
_KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "LIKE", "BETWEEN", "IN", "TRUE", "FALSE"}
_TOKEN = re.compile(
    r"""(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"""
    r"""|(?P<op><>|<=|>=|=|<|>)"""
    r"""|(?P<qid>"(?:[^"]|"")+")"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_:.]*)"""
    r"""|(?P<punct>[(),])"""
)

Bind = Callable[[Any], str]


@dataclass(frozen=True)
class Token:
    """A lexical token: kind (str, num, op, qid, word, punct), text, offset in the filter."""

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split a CQL2-text filter; an unknown character is a 400 naming its position."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(text, pos)
        if not m:
            raise BadRequest(f"CQL2: unexpected character {text[pos]!r} at offset {pos}")
        kind = m.lastgroup or ""
        out.append(Token(kind, m.group(kind), pos))
        pos = m.end()
    return out


@dataclass(frozen=True)
class Operand:
    """A typed SQL operand: a property expression or a bound literal's placeholder."""

    sql: str
    type: str  # String | Number | Boolean | Date | Timestamp
    what: str  # for messages: the property name or the literal as written


class Parser:
    """Recursive descent over the tokens; ``parse`` returns one SQL boolean expression."""

    def __init__(self, text: str, layer: Layer, bind: Bind) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.layer = layer
        self.bind = bind

    # -- helpers ---------------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def _is(self, word: str, offset: int = 0) -> bool:
        tok = self._peek(offset)
        return tok is not None and tok.kind == "word" and tok.text.upper() == word

    def _next(self, expected: str) -> Token:
        tok = self._peek()
        if tok is None:
            raise BadRequest(f"CQL2: the filter ends where {expected} was expected")
        self.i += 1
        return tok

    def _expect_punct(self, char: str) -> None:
        tok = self._next(f"'{char}'")
        if tok.kind != "punct" or tok.text != char:
            raise BadRequest(f"CQL2: expected '{char}' at offset {tok.pos}, got {tok.text!r}")

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> str:
        """The whole filter; trailing tokens are an error."""
        if not self.toks:
            raise BadRequest("CQL2: the filter is empty")
        sql = self._expr()
        tok = self._peek()
        if tok is not None:
            raise BadRequest(f"CQL2: unexpected {tok.text!r} at offset {tok.pos}")
        return sql

    def _expr(self) -> str:
        parts = [self._term()]
        while self._is("OR"):
            self.i += 1
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _term(self) -> str:
        parts = [self._factor()]
        while self._is("AND"):
            self.i += 1
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _factor(self) -> str:
        if self._is("NOT"):
            self.i += 1
            return f"(NOT {self._factor()})"
        tok = self._peek()
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            self.i += 1
            inner = self._expr()
            self._expect_punct(")")
            return inner
        if (self._is("TRUE") or self._is("FALSE")) and not self._continues_predicate():
            return "true" if self._next("a boolean").text.upper() == "TRUE" else "false"
        return self._predicate()

    def _continues_predicate(self) -> bool:
        nxt = self._peek(1)
        if nxt is None:
            return False
        if nxt.kind == "op":
            return True
        return nxt.kind == "word" and nxt.text.upper() in {"IS", "NOT", "LIKE", "BETWEEN", "IN"}

    def _predicate(self) -> str:
        left = self._operand()
        tok = self._next("an operator")
        if tok.kind == "op":
            right = self._operand()
            self._same_type(left, right, tok.text)
            if tok.text not in ("=", "<>") and left.type == "Boolean":
                raise BadRequest(f"CQL2: {tok.text} is not defined on booleans ({left.what})")
            return f"({left.sql} {tok.text} {right.sql})"
        word = tok.text.upper() if tok.kind == "word" else ""
        if word == "IS":
            negate = self._is("NOT")
            self.i += negate
            if not self._is("NULL"):
                raise BadRequest(f"CQL2: expected IS [NOT] NULL after {left.what}")
            self.i += 1
            return f"({left.sql} IS {'NOT ' if negate else ''}NULL)"
        negate = word == "NOT"
        if negate:
            tok = self._next("LIKE, BETWEEN or IN")
            word = tok.text.upper() if tok.kind == "word" else ""
        prefix = "NOT " if negate else ""
        if word == "LIKE":
            pattern = self._operand()
            if left.type != "String" or pattern.type != "String":
                raise BadRequest(f"CQL2: LIKE compares strings ({left.what} LIKE {pattern.what})")
            return f"({left.sql} {prefix}LIKE {pattern.sql})"
        if word == "BETWEEN":
            low = self._operand()
            if not self._is("AND"):
                raise BadRequest("CQL2: expected AND in BETWEEN … AND …")
            self.i += 1
            high = self._operand()
            for other in (low, high):
                self._same_type(left, other, "BETWEEN")
            if left.type != "Number":
                raise BadRequest(f"CQL2: BETWEEN compares numbers ({left.what} is {left.type})")
            return f"({left.sql} {prefix}BETWEEN {low.sql} AND {high.sql})"
        if word == "IN":
            self._expect_punct("(")
            items = [self._operand()]
            while (t := self._peek()) is not None and t.kind == "punct" and t.text == ",":
                self.i += 1
                items.append(self._operand())
            self._expect_punct(")")
            for item in items:
                self._same_type(left, item, "IN")
            return f"({left.sql} {prefix}IN ({', '.join(i.sql for i in items)}))"
        raise BadRequest(f"CQL2: unsupported operator {tok.text!r} at offset {tok.pos}")

    def _same_type(self, a: Operand, b: Operand, op: str) -> None:
        if a.type != b.type:
            raise BadRequest(
                f"CQL2: cannot compare {a.what} ({a.type}) {op} {b.what} ({b.type})",
                left_type=a.type,
                right_type=b.type,
            )

    def _operand(self) -> Operand:
        tok = self._next("a property or a literal")
        if tok.kind == "str":
            value = tok.text[1:-1].replace("''", "'")
            return Operand(f"{self.bind(value)}::text", "String", tok.text)
        if tok.kind == "num":
            return Operand(f"{self.bind(float(tok.text))}::float8", "Number", tok.text)
        if tok.kind == "qid":
            return self._property(tok.text[1:-1].replace('""', '"'))
        if tok.kind == "word":
            upper = tok.text.upper()
            if upper in ("TRUE", "FALSE"):
                return Operand(f"{self.bind(upper == 'TRUE')}::boolean", "Boolean", upper)
            if upper in ("DATE", "TIMESTAMP") and self._peek() is not None:
                return self._temporal(upper)
            if upper in _KEYWORDS:
                raise BadRequest(f"CQL2: expected a property or a literal, got {tok.text}")
            return self._property(tok.text)
        raise BadRequest(f"CQL2: expected a property or a literal at offset {tok.pos}")

    def _temporal(self, kind: str) -> Operand:
        self._expect_punct("(")
        tok = self._next("a quoted instant")
        self._expect_punct(")")
        if tok.kind != "str":
            raise BadRequest(f"CQL2: {kind}() takes a quoted string")
        raw = tok.text[1:-1]
        try:
            value: Any = (
                date.fromisoformat(raw)
                if kind == "DATE"
                else datetime.fromisoformat(raw.replace("Z", "+00:00"))
            )
        except ValueError:
            raise BadRequest(f"CQL2: invalid {kind} {raw!r}") from None
        cast = "date" if kind == "DATE" else "timestamptz"
        return Operand(f"{self.bind(value)}::{cast}", kind.title(), f"{kind}('{raw}')")

    def _property(self, name: str) -> Operand:
        attr = self.layer.attr(name)
        if attr is None or name not in self.layer.queryables:
            raise BadRequest(
                f"CQL2: unknown property {name!r} for {self.layer.name}",
                queryables=list(self.layer.queryables),
            )
        return Operand(f"({attr.sql})::{TYPES[attr.type]}", attr.type, name)


def to_sql(text: str, layer: Layer, bind: Bind) -> str:
    """A CQL2-text filter as one SQL boolean expression on alias ``t`` (values bound)."""
    return Parser(text, layer, bind).parse()
