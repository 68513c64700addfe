"""Keyset pagination in SQL: the rows strictly after (or before) a sort key, in key order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.sql.elements import ColumnClause

from airline_core.pagination import KeysetWindow, SortKey

__all__ = ["keyset", "window_key"]


def keyset(
    query: Select[Any],
    columns: Sequence[ColumnClause[Any]],
    window: KeysetWindow,
    key: Sequence[Any] | None,
) -> Select[Any]:
    """Order by ``columns`` and keep the rows strictly on the window's side of ``key``."""
    backwards = window.backwards
    if key is not None:
        query = query.where(_beyond(columns, key, backwards))
    order = [column.desc() if backwards else column.asc() for column in columns]
    return query.order_by(*order).limit(window.fetch)


def _beyond(
    columns: Sequence[ColumnClause[Any]], key: Sequence[Any], backwards: bool
) -> ColumnElement[bool]:
    # (a, b) > (x, y) spelled a > x OR (a = x AND b > y): every backend plans it on the index.
    column, value = columns[0], key[0]
    strictly: ColumnElement[bool] = column < value if backwards else column > value
    if len(columns) == 1:
        return strictly
    return or_(strictly, and_(column == value, _beyond(columns[1:], key[1:], backwards)))


def window_key(window: KeysetWindow) -> SortKey | None:
    return window.before if window.backwards else window.after
