"""Bad input is refused before any I/O, by the exact rules of API.md."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koodrive_backup import ModuleCode
from koodrive_backup import _validate as check


@pytest.mark.parametrize(
    "value",
    [
        "1842862763295184641",
        "a",
        "A-z_0.9@x=y+z:w",
        "x" * 128,
        "78e41c7e-db02-4d55-85b3-8153e4fefd2e@102",
    ],
)
def test_path_ids_accepted(value: str) -> None:
    assert check.path_id(value, "record_id") == value


@pytest.mark.parametrize(
    "value", ["", ".", "..", "a/b", "a b", "a%2F", "a?b", "a#b", "x" * 129, "é", "a\n", "..\\x"]
)
def test_path_ids_refused(value: str) -> None:
    with pytest.raises(ValueError, match="record_id"):
        check.path_id(value, "record_id")


@pytest.mark.parametrize("value", [123, None, b"123", 1.0])
def test_path_id_types(value: object) -> None:
    with pytest.raises(TypeError):
        check.path_id(value, "record_id")


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nX-Evil: 1", "a\0", ""])
def test_header_values_refused(value: str) -> None:
    with pytest.raises(ValueError, match="lock_id"):
        check.header_value(value, "lock_id")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", "123"),
        (123, "123"),
        (2**63 - 1, "9223372036854775807"),
        (10**30, "1" + "0" * 30),
        (-5, "-5"),
        (10**127, "1" + "0" * 127),  # 128 characters: the longest int ID
        ("1760265745989677312", "1760265745989677312"),
        ("1760265745989677300VW5TYWZlSW50ZWdlcg==", "1760265745989677300VW5TYWZlSW50ZWdlcg=="),
        ("A-z_0.9@x=y+z:w", "A-z_0.9@x=y+z:w"),  # every punctuation mark of the syntax
        (".", "."),  # the dot rule guards URL paths; scope IDs travel in a JSON body
        ("x" * 128, "x" * 128),
    ],
)
def test_scope_ids_accepted(value: object, expected: str) -> None:
    assert check.scope_id(value, 0) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        (False, TypeError),
        (1.0, TypeError),
        (None, TypeError),
        (b"123", TypeError),
        (["1"], TypeError),
        ("", ValueError),
        ("1 2", ValueError),
        ("12\t", ValueError),
        ("12\n", ValueError),
        ("\x00", ValueError),
        ("a\u00a0b", ValueError),  # no-break space: Unicode whitespace
        ("a\u200bb", ValueError),  # zero-width space: category Cf
        ("a\u2028b", ValueError),  # line separator
        ("a\x85b", ValueError),  # NEL: Cc
        ("id1,id2,id3,", ValueError),  # a CSV line is not one ID (issue 11 item 5)
        ('"123"', ValueError),
        ("'123'", ValueError),
        ("a/b", ValueError),
        ("a;b", ValueError),
        ("\u00e9", ValueError),  # non-ASCII
        ("\u0661\u0662", ValueError),  # Arabic-Indic digits: digits, but not ASCII
        ("a\ud800b", ValueError),  # a lone surrogate: cannot even be encoded as UTF-8
        ("\udc80", ValueError),
        ("x" * 129, ValueError),
        (10**128, ValueError),  # 129 digits
        (-(10**127), ValueError),  # a minus and 128 digits
        pytest.param(10**5000, ValueError, id="5001-digits"),  # beyond what str() converts
    ],
)
def test_scope_ids_refused_naming_the_position(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"scope_ids\[7\]"):
        check.scope_id(value, 7)


@pytest.mark.parametrize("value", ["100", "101", "102", ModuleCode.FOLDER, ModuleCode.CONTACTS])
def test_module_codes(value: str) -> None:
    assert check.module_code(value) == str.__str__(value)
    assert type(check.module_code(value)) is str


@pytest.mark.parametrize(
    ("value", "error"), [("103", ValueError), ("", ValueError), (101, TypeError)]
)
def test_module_codes_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        check.module_code(value)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://127.0.0.1:1",
        "http://127.255.0.9",
        "http://[::1]:9000",
        "https://kd.example",
        "https://kd.example:8443/",
    ],
)
def test_base_urls_accepted(url: str) -> None:
    assert not check.base_url(url, allow_insecure_http=False).endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://kd.example",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "http://10.0.0.1",
        "http://[::2]",
        "http://0.0.0.0",
    ],
)
def test_insecure_http_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValueError, match="allow_insecure_http"):
        check.base_url(url, allow_insecure_http=False)
    assert check.base_url(url, allow_insecure_http=True)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://kd.example",
        "kd.example",
        "https://",
        "https://kd.example?x=1",
        "https://user:pw@kd.example",
        "https://kd.example:99999",
        "https://kd.example/koodrive/ose/v1/backup",
    ],
)
def test_malformed_base_urls(url: str) -> None:
    with pytest.raises(ValueError):
        check.base_url(url, allow_insecure_http=False)


def test_base_url_type() -> None:
    with pytest.raises(TypeError):
        check.base_url(b"https://kd.example", allow_insecure_http=False)


def test_positive_int() -> None:
    assert check.positive_int(100, "chunk_size", maximum=100) == 100
    for bad in (0, 101, -1):
        with pytest.raises(ValueError):
            check.positive_int(bad, "chunk_size", maximum=100)
    for wrong in (True, 1.0, "1"):
        with pytest.raises(TypeError):
            check.positive_int(wrong, "chunk_size")


def test_scope_ids_fast_path_and_fallback_agree() -> None:
    plain = [str(n) for n in range(1000)]
    assert check.scope_ids(iter(plain)) == plain  # a generator is fine
    mixed = ["1842846715527366528", 7, "ab-c", "a=b"]  # an int, punctuation of the syntax
    assert check.scope_ids(mixed) == ["1842846715527366528", "7", "ab-c", "a=b"]
    with pytest.raises(ValueError, match=r"scope_ids\[2\]"):
        check.scope_ids(["1", "2", "", "3"])
    with pytest.raises(ValueError, match=r"scope_ids\[1\]"):
        check.scope_ids(["1", "a b"])
    with pytest.raises(TypeError, match=r"scope_ids\[1\]"):
        check.scope_ids(["1", 2.0])


@pytest.mark.parametrize(
    ("bad", "position"),
    [
        ("id1,id2,id3,", 2),  # the separator the old fast path joined with
        ("a.b,c", 1),
        ("x" * 129, 3),  # too long, although every character is allowed
        ("\u0661", 0),
        ("a\ud800", 2),  # a lone surrogate: refused before any encoding is tried
        ("", 1),
    ],
)
def test_scope_ids_fast_path_refuses_what_scope_id_refuses(bad: str, position: int) -> None:
    ids = [str(1842846715527366528 + n) for n in range(4)]
    ids[position] = bad
    with pytest.raises(ValueError, match=rf"scope_ids\[{position}\]") as info:
        check.scope_ids(ids)
    assert "^[A-Za-z0-9._@=+:-]{1,128}$" in str(info.value)
    assert str(info.value).isprintable()  # the refused value is shown escaped


# Mostly characters the syntax allows (so whole lists pass), some it refuses, surrogates too.
_CHARACTERS = (
    st.sampled_from("aZ09._@=+:-")
    | st.sampled_from(",;\"' \t\u00e9\u0661")
    | st.characters(exclude_categories=())
)


@given(st.lists(st.text(alphabet=_CHARACTERS, max_size=6) | st.integers(), max_size=8))
@settings(max_examples=300, deadline=None)
def test_scope_ids_agrees_with_scope_id_one_by_one(values: list[str | int]) -> None:
    """The C-speed path over a whole list never accepts what the per-ID rule refuses."""
    expected: list[str] | None = []
    for position, value in enumerate(values):
        try:
            expected.append(check.scope_id(value, position))  # type: ignore[union-attr]
        except ValueError:
            expected = None
            break
    if expected is None:
        with pytest.raises(ValueError):
            check.scope_ids(values)
    else:
        assert check.scope_ids(values) == expected


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, ValueError),
        (-1.5, ValueError),
        (float("inf"), ValueError),
        (float("nan"), ValueError),
        pytest.param(10**400, ValueError, id="int-beyond-any-float"),
        (True, TypeError),
        ("30", TypeError),
    ],
)
def test_positive_seconds_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        check.positive_seconds(value, "timeout")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-0.001, ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        (float("nan"), ValueError),
        pytest.param(10**400, ValueError, id="int-beyond-any-float"),  # not OverflowError
        (True, TypeError),
        (None, TypeError),
        ("5", TypeError),
    ],
)
def test_non_negative_seconds_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="margin"):
        check.non_negative_seconds(value, "margin")


@pytest.mark.parametrize(("value", "expected"), [(0, 0.0), (0.0, 0.0), (5, 5.0), (2.5, 2.5)])
def test_non_negative_seconds_accepted(value: float, expected: float) -> None:
    seconds = check.non_negative_seconds(value, "margin")
    assert seconds == expected and type(seconds) is float


@pytest.mark.parametrize("value", ["123", b"123", bytearray(b"1"), 123, None])
def test_a_lone_string_or_non_iterable_is_not_a_list_of_ids(value: object) -> None:
    with pytest.raises(TypeError, match="scope_ids"):
        check.iterable(value, "scope_ids")
