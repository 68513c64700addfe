"""The error tree: what each class is, and how an error reads as one line."""

from __future__ import annotations

import pytest

from airline_core import (
    AirlineError,
    AlreadyExists,
    Conflict,
    FieldError,
    InvalidRequest,
    NotFound,
    StillReferenced,
    Unavailable,
)
from airline_core.validation import Rules


@pytest.mark.parametrize(
    ("error", "parents"),
    [
        (InvalidRequest, (AirlineError, ValueError)),
        (NotFound, (AirlineError, LookupError)),
        (Conflict, (AirlineError,)),
        (AlreadyExists, (Conflict, AirlineError)),
        (StillReferenced, (Conflict, AirlineError)),
        (Unavailable, (AirlineError,)),
    ],
)
def test_each_error_subclasses_its_parents(error: type, parents: tuple[type, ...]) -> None:
    assert issubclass(error, parents)


def test_error_without_field_errors_reads_as_its_detail() -> None:
    assert str(NotFound("no city has id X")) == "no city has id X"


def test_error_lists_every_field_error_after_its_detail() -> None:
    error = InvalidRequest(
        "invalid city", errors=[FieldError("code", "bad"), FieldError("name", "empty")]
    )
    assert str(error) == "invalid city: code: bad; name: empty"
    assert error.detail == "invalid city"


def test_for_field_names_the_field() -> None:
    error = InvalidRequest.for_field("limit", "must be between 1 and 200")
    assert error.errors == (FieldError("limit", "must be between 1 and 200"),)
    assert str(error) == "limit: must be between 1 and 200"


def test_rules_pass_when_nothing_is_broken() -> None:
    rules = Rules("city")
    assert rules.require(True, "code", "never shown")
    rules.check()


def test_rules_report_every_broken_rule_at_once() -> None:
    rules = Rules("city")
    assert not rules.require(False, "code", "bad code")
    rules.add("name", "bad name")
    with pytest.raises(InvalidRequest, match="invalid city") as caught:
        rules.check()
    assert [str(item) for item in caught.value.errors] == ["code: bad code", "name: bad name"]


def test_rules_absorb_another_objects_errors_under_a_prefix() -> None:
    rules = Rules("seat layout")
    rules.absorb(InvalidRequest.for_field("seats", "bad"), "cabins.1")
    with pytest.raises(InvalidRequest) as caught:
        rules.fail()
    assert caught.value.errors == (FieldError("cabins.1.seats", "bad"),)
