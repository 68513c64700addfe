"""Keyset pagination: page requests, opaque cursors, and walking a list both ways."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airline_core import InvalidRequest, Page, PageRequest
from airline_core.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    KeysetWindow,
    SortKey,
    make_page,
    select_window,
)
from tests.core.samples import broken_fields

SCOPE = "letters:all"


def by_itself(item: str) -> SortKey:
    return (item,)


def read(items: Sequence[str], request: PageRequest, scope: str = SCOPE) -> Page[str]:
    """What a use case does: open the window, let a (memory) store select, make the page."""
    window = KeysetWindow.open(request, scope)
    return make_page(select_window(items, by_itself, window), window, by_itself, scope)


def walk(items: Sequence[str], limit: int) -> tuple[list[str], list[str]]:
    """Every item, paging forwards from the start and then backwards from the last page."""
    page = read(items, PageRequest(limit=limit))
    forwards = list(page.items)
    while page.after is not None:
        page = read(items, PageRequest(limit=limit, after=page.after))
        forwards.extend(page.items)
    backwards = list(page.items)
    while page.before is not None:
        page = read(items, PageRequest(limit=limit, before=page.before))
        backwards[:0] = page.items
    return forwards, backwards


def cursor_of(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def a_cursor(scope: str = SCOPE) -> str:
    page = read(["a", "b", "c"], PageRequest(limit=1), scope)
    assert page.after is not None
    return page.after


# Page requests ---------------------------------------------------------------------------------


def test_page_request_defaults_to_fifty_rows() -> None:
    assert PageRequest().limit == DEFAULT_LIMIT == 50


@pytest.mark.parametrize("limit", [1, 2, 199, MAX_LIMIT])
def test_page_request_accepts_limits_from_1_to_200(limit: int) -> None:
    assert PageRequest(limit=limit).limit == limit


@pytest.mark.parametrize("limit", [0, -1, 201, 10_000])
def test_page_request_rejects_limits_outside_1_to_200(limit: int) -> None:
    with pytest.raises(InvalidRequest, match="between 1 and 200") as caught:
        PageRequest(limit=limit)
    assert broken_fields(caught.value) == ["limit"]


def test_page_request_rejects_after_and_before_together() -> None:
    with pytest.raises(InvalidRequest, match="either after or before") as caught:
        PageRequest(after="x", before="y")
    assert broken_fields(caught.value) == ["before"]


def test_window_fetches_one_row_more_than_it_shows() -> None:
    window = KeysetWindow.open(PageRequest(limit=10), SCOPE)
    assert window.fetch == 11
    assert not window.backwards


def test_window_with_before_reads_backwards() -> None:
    window = KeysetWindow.open(PageRequest(before=a_cursor()), SCOPE)
    assert window.backwards
    assert window.before == ("a",)


# Cursors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!",
        "%%%%",
        "a",
        cursor_of(5),
        cursor_of([1, 2, 3]),
        cursor_of(None),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ],
    ids=["empty", "word", "punctuation", "percent", "one-char", "int", "triple", "null", "binary"],
)
def test_garbage_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        KeysetWindow.open(PageRequest(after=cursor), SCOPE)
    assert broken_fields(caught.value) == ["after"]


def test_garbage_before_cursor_names_before() -> None:
    with pytest.raises(InvalidRequest, match="not a cursor this API made") as caught:
        KeysetWindow.open(PageRequest(before="garbage"), SCOPE)
    assert broken_fields(caught.value) == ["before"]


def test_cursor_with_a_key_of_the_wrong_shape_is_rejected() -> None:
    # Take a genuine fingerprint and put a key of the wrong type, length, or a bool under it.
    payload = json.loads(base64.urlsafe_b64decode(a_cursor() + "=="))
    fingerprint = payload[0]
    for key in ([1], ["a", "b"], [], [True], "a", {"a": 1}):
        with pytest.raises(InvalidRequest, match="not a cursor this API made"):
            KeysetWindow.open(PageRequest(after=cursor_of([fingerprint, key])), SCOPE)


def test_cursor_key_must_match_a_two_part_shape() -> None:
    cursor = read(["a", "b"], PageRequest(limit=1)).after
    assert cursor is not None
    with pytest.raises(InvalidRequest, match="not a cursor this API made"):
        KeysetWindow.open(PageRequest(after=cursor), SCOPE, shape=(int, str))


def test_cursor_from_another_scope_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="belongs to another query") as caught:
        KeysetWindow.open(PageRequest(after=a_cursor("cities:all")), "airports:all")
    assert broken_fields(caught.value) == ["after"]


def test_cursor_round_trips_its_key() -> None:
    assert KeysetWindow.open(PageRequest(after=a_cursor()), SCOPE).after == ("a",)


def test_cursor_is_url_safe_text_without_padding() -> None:
    cursor = a_cursor()
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# Pages ------------------------------------------------------------------------------------------


def test_empty_list_is_one_empty_page_without_cursors() -> None:
    page = read([], PageRequest(limit=5))
    assert page == Page(items=(), limit=5, after=None, before=None)


def test_first_page_has_no_before_cursor_and_last_page_no_after_cursor() -> None:
    items = ["a", "b", "c", "d", "e"]
    first = read(items, PageRequest(limit=2))
    assert first.items == ("a", "b")
    assert first.before is None
    assert first.after is not None
    middle = read(items, PageRequest(limit=2, after=first.after))
    assert middle.items == ("c", "d")
    assert middle.before is not None
    assert middle.after is not None
    last = read(items, PageRequest(limit=2, after=middle.after))
    assert last.items == ("e",)
    assert last.after is None


def test_list_that_fills_its_pages_exactly_ends_without_an_empty_page() -> None:
    items = ["a", "b", "c", "d"]
    second = read(items, PageRequest(limit=2, after=read(items, PageRequest(limit=2)).after))
    assert second.items == ("c", "d")
    assert second.after is None


def test_page_before_the_second_page_is_the_first_page() -> None:
    items = ["a", "b", "c", "d", "e"]
    second = read(items, PageRequest(limit=2, after=read(items, PageRequest(limit=2)).after))
    back = read(items, PageRequest(limit=2, before=second.before))
    assert back.items == ("a", "b")
    assert back.before is None
    assert back.after is not None
    assert read(items, PageRequest(limit=2, after=back.after)).items == ("c", "d")


def test_pages_follow_key_order_not_insertion_order() -> None:
    assert read(["c", "a", "b"], PageRequest(limit=3)).items == ("a", "b", "c")


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 26, 200])
def test_walking_forwards_then_backwards_yields_every_item_once_in_order(limit: int) -> None:
    items = [chr(ord("a") + i) for i in range(26)]
    forwards, backwards = walk(items, limit)
    assert forwards == items
    assert backwards == items


@given(
    items=st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=40),
    limit=st.integers(min_value=1, max_value=12),
)
def test_any_walk_yields_every_item_once_in_order(items: list[str], limit: int) -> None:
    forwards, backwards = walk(items, limit)
    assert forwards == sorted(items)
    assert backwards == sorted(items)


@given(
    items=st.lists(st.text(min_size=1, max_size=3), unique=True, min_size=1, max_size=40),
    limit=st.integers(min_value=1, max_value=8),
    data=st.data(),
)
def test_page_before_any_forward_page_is_the_forward_page_before_it(
    items: list[str], limit: int, data: st.DataObject
) -> None:
    pages = [read(items, PageRequest(limit=limit))]
    while pages[-1].after is not None:
        pages.append(read(items, PageRequest(limit=limit, after=pages[-1].after)))
    index = data.draw(st.integers(min_value=0, max_value=len(pages) - 1))
    if index == 0:
        assert pages[0].before is None
    else:
        assert read(items, PageRequest(limit=limit, before=pages[index].before)).items == (
            pages[index - 1].items
        )


@given(
    keys=st.lists(
        st.tuples(st.integers(min_value=0, max_value=5), st.text(min_size=1, max_size=2)),
        unique=True,
        max_size=30,
    ),
    limit=st.integers(min_value=1, max_value=6),
)
def test_two_part_keys_page_in_order(keys: list[tuple[int, str]], limit: int) -> None:
    def key(item: tuple[int, str]) -> SortKey:
        return item

    def page_of(request: PageRequest) -> Page[tuple[int, str]]:
        window = KeysetWindow.open(request, SCOPE, shape=(int, str))
        return make_page(select_window(keys, key, window), window, key, SCOPE)

    page = page_of(PageRequest(limit=limit))
    seen = list(page.items)
    while page.after is not None:
        page = page_of(PageRequest(limit=limit, after=page.after))
        seen.extend(page.items)
    assert seen == sorted(keys)
