"""Hypothesis strategies for hostile requests: JSON values, bodies grown from a valid example,
raw bytes, query parameters.

JSON text is written here rather than by a serializer, because the fuzzer needs exactly what a
serializer refuses to write: nesting deeper than its recursion limit, repeated keys, NaN and
Infinity, unescaped control characters, invalid UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]
Strategy = st.SearchStrategy[Any]


@dataclass(frozen=True)
class Raw:
    """JSON text (or not-quite-JSON text) written as it is."""

    text: bytes

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 80 else self.text[:60] + b"..." + self.text[-12:]
        return f"Raw({shown!r}, {len(self.text)} bytes)"


@dataclass(frozen=True)
class Pairs:
    """A JSON object written pair by pair, so that a key may repeat."""

    items: tuple[tuple[str, Any], ...]


def encode(value: Any) -> bytes:
    """JSON text of a value made of dicts, lists, scalars, Raw and Pairs."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        value = Pairs(tuple(value.items()))
    if isinstance(value, Pairs):
        return b"{" + b",".join(_string(k) + b":" + encode(v) for k, v in value.items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(encode(v) for v in value) + b"]"
    if isinstance(value, str):
        return _string(value)
    # None, booleans, integers of any size, floats (nan and inf come out as NaN / Infinity).
    return json.dumps(value).encode()


def _string(text: str) -> bytes:
    try:
        return json.dumps(text, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate: only its \u escape can carry it
        return json.dumps(text).encode()


# --- values -------------------------------------------------------------------------------

def nested(depth: int, kind: str, closed: bool = True) -> Raw:
    """`depth` levels of lists, objects or both; unclosed when `closed` is false."""
    opening, core, closing = {"list": (b"[", b"1", b"]"), "dict": (b'{"a":', b"null", b"}"),
                              "mixed": (b'[{"a":', b"0", b"}]")}[kind]
    levels = depth // 2 if kind == "mixed" else depth
    return Raw(opening * levels + core + (closing * levels if closed else b""))


# Around the parsers' limits (orjson refuses 1024 levels; msgspec, Python's json and
# recursive code in between have their own) and the range, 50 to 3000.
DEPTHS = st.one_of(st.sampled_from([50, 127, 128, 254, 255, 256, 511, 512, 1000, 1022, 1023,
                                    1024, 1025, 2048, 3000]), st.integers(50, 3000))
DEEP = st.builds(nested, DEPTHS, st.sampled_from(["list", "dict", "mixed"]),
                 st.sampled_from([True, True, True, False]))

# Beyond signed and unsigned 64 bits, and their edges (SQLite and PostgreSQL BIGINT stop at
# 2**63 - 1; orjson reads integers beyond 64 bits as floats).
HUGE_INTEGERS = [2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 2**64 - 1, 10**30, -(10**30),
                 2**53 + 1, 2**31, -(2**31) - 1, 10**12 + 1, 10**15, -1, 0, 1]
INTEGERS = st.one_of(st.sampled_from(HUGE_INTEGERS), st.integers(),
                     st.integers(-(2**70), 2**70))
FLOATS = st.one_of(
    st.sampled_from([1e308, -1e308, -0.0, 0.0, 5e-324, 1e-7, 0.1, 0.5, 1.5, 100.0, 1000.5,
                     1e16, 1e19, 9.223372036854776e18, 1.8446744073709552e19, 1e30]),
    st.floats())
NUMBER_LITERALS = st.sampled_from([
    b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1e-400", b"1E2",
    b"-0", b"-0.0", b"0e0", b"01", b"-", b"+1", b".5", b"1.", b"0x10", b"1_000", b"9" * 400,
    b"1" + b"0" * 30 + b".5", b"1.0000000000000000000000001", b"100.0000001",
]).map(Raw)
NAN_LIKE = st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "-0", "-0.0", "1e308",
                            "1e400", "0x10", " 100", "100 ", "1_000", "\uff11\uff10\uff10",
                            "\u00b2", "\u0661\u0662", "true", "null", "None", "", " ", "100"])
ODD_CHARS = ["\x00", "\x1b", "\u2028", "\u2029", "\x7f", "\ufeff", "\u202e", "\ud800", "\udc00",
             "\r", "\n", "\t", "\x08", "\u00e9", "\U0001f600", "\u0301", "/", "~", "a", "9"]
CONTROL_TEXT = st.one_of(
    st.text(st.sampled_from(ODD_CHARS), min_size=1, max_size=24),
    st.builds(lambda a, b: a + b, st.sampled_from(["pm_card_visa", "ev-1", "daily", "US",
                                                   "a@b.co", "hour", "en-US"]),
              st.sampled_from(["\x00", "\x1b", "\u2028", " ", "\ud800"])),
    st.text(max_size=24))
RAW_STRINGS = st.sampled_from([
    b'"a\x00b"', b'"\x1b[31m"', b'"\x0a"', b'"\xe2\x80\xa8"', b'"\xff\xfe"', b'"\xc3"',
    b'"\xed\xa0\x80"', b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\u0000"', b'"\\x41"', b"'single'",
    b'"unterminated',
]).map(Raw)


def long_texts(most_bytes: int = 100_000) -> st.SearchStrategy[str]:
    """Strings around the length limits (ids 128, keys 255, names 256, metadata 4096, Python's
    4300 digits of int()), and beyond; about `most_bytes` at most once percent-encoded."""
    lengths = st.one_of(st.sampled_from([127, 128, 129, 200, 254, 255, 256, 257, 500, 501,
                                         4096, 4097, 4301, 10**6]), st.integers(100, 8000))
    return st.builds(lambda n, c: c * min(n, most_bytes // (3 * len(c.encode()))), lengths,
                     st.sampled_from(["a", "9", "\u00e9", "\x00", "\U0001f600", " "]))


LONG_TEXT = long_texts()
WRONG_TYPES: Strategy = st.one_of(
    st.booleans(), st.just([]), st.just({}), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2))


def nasty_values() -> Strategy:
    """Any one hostile JSON value."""
    # Deep nesting twice: it is the one value that reaches recursive code at any position.
    return st.one_of(DEEP, DEEP, INTEGERS, FLOATS, NUMBER_LITERALS, NAN_LIKE, st.none(),
                     st.just(""), CONTROL_TEXT, RAW_STRINGS, LONG_TEXT, WRONG_TYPES)


UNKNOWN_KEYS = st.one_of(st.sampled_from(["extra", "", " ", "ID", "id ", "__proto__",
                                          "constructor", "\x00", "events/0", "~1"]),
                         st.text(max_size=8))


def alike(value: Any) -> Strategy:
    """Hostile values of the same JSON type as `value`: what reaches a field's own checks."""
    if isinstance(value, bool) or value is None:
        return nasty_values()
    if isinstance(value, int | float):
        return st.one_of(INTEGERS, FLOATS, NUMBER_LITERALS,
                         st.integers(-3, 3).map(lambda d: value + d))
    if isinstance(value, str):
        return st.one_of(CONTROL_TEXT, LONG_TEXT, NAN_LIKE, RAW_STRINGS, st.just(""),
                         st.sampled_from(ODD_CHARS).map(lambda c: value + c),
                         st.integers(1, 300).map(lambda n: value * n))
    if isinstance(value, list):
        return st.one_of(DEEP, st.just([]), st.integers(2, 50).map(lambda n: value * n),
                         st.lists(nasty_values(), max_size=3))
    return st.one_of(DEEP, st.just({}), st.dictionaries(UNKNOWN_KEYS, nasty_values(),
                                                        max_size=3))


# --- bodies from a valid example ----------------------------------------------------------

def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every position in a JSON value, the value itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def changed(value: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """A copy of `value` with the position `path` given to `change` (old value -> new)."""
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: changed(value[head], rest, change)}
    copy = list(value)
    copy[int(head)] = changed(copy[int(head)], rest, change)
    return copy


def removed(value: Any, path: Path) -> Any:
    parent, last = path[:-1], path[-1]

    def drop(container: Any) -> Any:
        if isinstance(container, dict):
            return {k: v for k, v in container.items() if k != last}
        return [v for i, v in enumerate(container) if i != last]

    return changed(value, parent, drop)


@st.composite
def mutated(draw: st.DrawFn, example: Any) -> Any:
    """The example with one position changed: replaced, removed, a key added or repeated."""
    path = draw(st.sampled_from(paths(example)))
    kinds = ["replace", "replace", "replace"]
    if path:
        kinds.append("remove")
    if isinstance(at(example, path), dict):
        kinds += ["unknown", "repeat"]
    kind = draw(st.sampled_from(kinds))
    if kind == "replace":
        old = at(example, path)
        new = draw(st.one_of(nasty_values(), alike(old)))
        return changed(example, path, lambda _: new)
    if kind == "remove":
        return removed(example, path)
    if kind == "unknown":
        key, new = draw(UNKNOWN_KEYS), draw(st.one_of(nasty_values(), st.integers(0, 9)))
        return changed(example, path, lambda old: {**old, key: new})
    return changed(example, path, lambda old: _repeated(draw, old))


def _repeated(draw: st.DrawFn, obj: dict[str, Any]) -> Any:
    """The object with one of its keys written twice (the other value before or after)."""
    if not obj:
        return Pairs((("a", 1), ("a", draw(nasty_values()))))
    key = draw(st.sampled_from(sorted(obj)))
    other = draw(nasty_values())
    items = list(obj.items())
    position = draw(st.integers(0, len(items)))
    items.insert(position, (key, other))
    return Pairs(tuple(items))


@st.composite
def raw_bodies(draw: st.DrawFn, example: Any) -> bytes:
    """Bytes that are not the JSON object a route wants, most of them near the example."""
    text = encode(example)
    cut = draw(st.integers(0, max(len(text) - 1, 0)))
    body: bytes = draw(st.one_of(
        st.sampled_from([b"", b" ", b"\n", b"null", b"[]", b"{}", b'""', b"0", b"true",
                         b"\xef\xbb\xbf{}", b"{,}", b'{"a"}', b"{'a': 1}", b"[{}]"]),
        st.binary(max_size=48),
        st.just(text[:cut]),  # truncated
        st.just(text[:cut] + b"\xff" + text[cut:]),  # invalid UTF-8 inside
        st.just(text[:cut] + b"\x00" + text[cut:]),
        st.just(b"\xef\xbb\xbf" + text),
        st.just(text + b"x"), st.just(text + text),  # trailing garbage, two documents
        st.just(text.decode("utf-8", "replace").encode("utf-16")),
    ))
    return body


def bodies(example: Any) -> st.SearchStrategy[bytes]:
    """Request bodies for a route whose valid body is `example`."""
    return st.one_of(
        st.just(example).map(encode),
        mutated(example).map(encode), mutated(example).map(encode),
        mutated(example).map(encode), mutated(example).map(encode),
        nasty_values().map(encode),  # the whole body
        raw_bodies(example),
    )


# --- every field, one at a time -----------------------------------------------------------

# The list, run on every field of every route before the random search starts.
EVERY_FIELD: list[Any] = [None, nested(600, "dict"), nested(3000, "list")]
NUMBER_FIELD: list[Any] = [2**63, -(2**63), 10**30, 2**64, 1e308, -0.0, Raw(b"NaN"), "NaN"]
TEXT_FIELD: list[Any] = ["", "a\x00\x1b\u2028", "x" * 5000]


def field_by_field(example: Any, *, storage_only: bool = False) -> list[bytes]:
    """The example with each position in turn given each value of the lists above.

    `storage_only`: only numbers and texts, the values whose fate depends on the database."""
    found = []
    for path in paths(example)[1:]:
        old = at(example, path)
        values = [] if storage_only else list(EVERY_FIELD)
        if isinstance(old, int | float) and not isinstance(old, bool):
            values += NUMBER_FIELD
        elif isinstance(old, str):
            values += TEXT_FIELD
        found += [encode(changed(example, path, _constant(value))) for value in values]
    if not storage_only:
        found += [encode(nested(3000, "dict")), b"\xff\xfe", encode(_first_key_twice(example))]
    return found


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


def _first_key_twice(example: Any) -> Any:
    if not isinstance(example, dict) or not example:
        return example
    key = next(iter(example))
    return Pairs(((key, 2**63), *example.items()))


QUERY_VALUES = [str(2**63), str(-(2**63)), str(10**30), str(2**64), "1e308", "-0", "NaN", "",
                "\x00", "9" * 5000, "\u00b2", "0001-01-01T00:00:00+14:00", "9999-12-31"]


# --- query parameters ---------------------------------------------------------------------

DATES = st.sampled_from([
    "0001-01-01", "9999-12-31", "0000-01-01", "2026-02-30", "2026-11-15", "2026-11-01",
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z",
    "2026-11-15T12:00:00Z", "2026-11-15T12:00:00", "2026-11-15T25:00:00Z", "+002026-11-15",
    "2026-W46", "2026-319", "20261115", "2026-11-15T12:00:00.999999999Z", "1970-01-01",
    "1969-12-31T23:59:59Z", "2026-11-15 12:00", "2026-11-15T12:00:00+99:00",
])


# A URL stops at 64 KiB in the test client: a path segment and two query parameters fit.
URL_TEXT = long_texts(15_000)


def query_texts() -> st.SearchStrategy[str]:
    """Hostile text for one query parameter (integers first: most parameters are)."""
    return st.one_of(INTEGERS.map(str), FLOATS.map(repr), NAN_LIKE, CONTROL_TEXT, URL_TEXT,
                     DATES, st.just(""))
