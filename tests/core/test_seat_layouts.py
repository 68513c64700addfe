"""Cabin layouts, seat layouts and airplanes: rows, seat letters, seat kinds, cabin order."""

from __future__ import annotations

import pytest

from airline_core import Airplane, Cabin, CabinLayout, InvalidRequest, SeatKind, SeatLayout
from airline_core.ids import new_id
from tests.core.samples import TWO_CABINS, broken_fields

W, M, A = SeatKind.WINDOW, SeatKind.MIDDLE, SeatKind.AISLE


def cabin(seats: str = "ABC-DEF", **changes: object) -> CabinLayout:
    values: dict[str, object] = {
        "cabin": Cabin.ECONOMY,
        "first_row": 10,
        "last_row": 12,
        "seats": seats,
    }
    return CabinLayout(**{**values, **changes})  # type: ignore[arg-type]


# Cabin layouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seats", "kinds"),
    [
        ("ABC-DEF", {"A": W, "B": M, "C": A, "D": A, "E": M, "F": W}),
        ("AC-DEG-HK", {"A": W, "C": A, "D": A, "E": M, "G": A, "H": A, "K": W}),
        ("AC-DF", {"A": W, "C": A, "D": A, "F": W}),
        ("A-C-F", {"A": W, "C": A, "F": W}),
        ("AB", {"A": W, "B": W}),
        ("ABCD-EFGH", {"A": W, "B": M, "C": M, "D": A, "E": A, "F": M, "G": M, "H": W}),
    ],
)
def test_seat_kind_follows_windows_and_aisles(seats: str, kinds: dict[str, SeatKind]) -> None:
    layout = cabin(seats)
    assert {letter: layout.kind_of(letter) for letter in layout.letters} == kinds


def test_cabin_layout_lists_every_seat_row_by_row() -> None:
    layout = cabin("AC-DF", first_row=3, last_row=4, exit_rows=(4,))
    seats = list(layout.iter_seats())
    assert [seat.label for seat in seats] == ["3A", "3C", "3D", "3F", "4A", "4C", "4D", "4F"]
    assert [seat.exit_row for seat in seats] == [False] * 4 + [True] * 4
    assert {seat.cabin for seat in seats} == {Cabin.ECONOMY}
    assert [seat.kind for seat in seats[:4]] == [W, A, A, W]


def test_cabin_layout_counts_rows_and_seats() -> None:
    layout = cabin("ABC-DEF", first_row=10, last_row=35)
    assert layout.rows == range(10, 36)
    assert layout.letters == "ABCDEF"
    assert layout.seat_count == 26 * 6


def test_cabin_layout_accepts_the_cabin_by_its_value() -> None:
    assert cabin(cabin="business").cabin is Cabin.BUSINESS


def test_cabin_layout_rejects_an_unknown_cabin_naming_the_field() -> None:
    # Bad input must be an InvalidRequest (a 422), never a bare ValueError (a 500).
    with pytest.raises(InvalidRequest) as caught:
        cabin(cabin="galley")
    assert broken_fields(caught.value) == ["cabin"]


def test_cabin_layout_sorts_its_exit_rows() -> None:
    assert cabin(exit_rows=[12, 10]).exit_rows == (10, 12)


def test_single_row_cabin_is_valid() -> None:
    assert cabin(first_row=1, last_row=1).seat_count == 6


def test_rows_may_reach_99() -> None:
    assert cabin(first_row=99, last_row=99).rows == range(99, 100)


@pytest.mark.parametrize("first_row", [0, -1, 100])
def test_first_row_must_be_1_to_99(first_row: int) -> None:
    with pytest.raises(InvalidRequest, match=r"must be 1\.\.99") as caught:
        cabin(first_row=first_row, last_row=99)
    assert "first_row" in broken_fields(caught.value)


@pytest.mark.parametrize(("first_row", "last_row"), [(10, 9), (10, 100), (1, 0)])
def test_last_row_must_be_between_first_row_and_99(first_row: int, last_row: int) -> None:
    with pytest.raises(InvalidRequest, match="between first_row and 99") as caught:
        cabin(first_row=first_row, last_row=last_row)
    assert broken_fields(caught.value) == ["last_row"]


@pytest.mark.parametrize("seats", ["", "abc", "A--B", "-AB", "AB-", "A B", "A1", "ABC DEF"])
def test_seats_must_be_letters_with_dashes_for_aisles(seats: str) -> None:
    with pytest.raises(InvalidRequest, match="seat letters") as caught:
        cabin(seats)
    assert broken_fields(caught.value) == ["seats"]


def test_seats_must_not_repeat_a_letter() -> None:
    with pytest.raises(InvalidRequest, match="must not repeat a seat letter") as caught:
        cabin("ABC-CDE")
    assert broken_fields(caught.value) == ["seats"]


def test_seats_must_run_in_alphabetical_order() -> None:
    with pytest.raises(InvalidRequest, match="alphabetical order") as caught:
        cabin("ACB-DEF")
    assert broken_fields(caught.value) == ["seats"]


@pytest.mark.parametrize("exit_rows", [(9,), (13,), (11, 11)])
def test_exit_rows_must_be_distinct_rows_of_the_cabin(exit_rows: tuple[int, ...]) -> None:
    with pytest.raises(InvalidRequest, match="distinct rows of this cabin") as caught:
        cabin(first_row=10, last_row=12, exit_rows=exit_rows)
    assert broken_fields(caught.value) == ["exit_rows"]


def test_cabin_layout_reports_every_broken_field_at_once() -> None:
    with pytest.raises(InvalidRequest, match="invalid cabin layout") as caught:
        cabin("a", first_row=0, last_row=100, exit_rows=(200,))
    assert broken_fields(caught.value) == ["first_row", "last_row", "seats", "exit_rows"]


# Seat layouts -----------------------------------------------------------------------------------


def test_seat_layout_sums_its_cabins() -> None:
    assert TWO_CABINS.capacity == 4 * 4 + 26 * 6
    assert TWO_CABINS.cabin_classes == frozenset({Cabin.BUSINESS, Cabin.ECONOMY})
    assert len(list(TWO_CABINS.iter_seats())) == TWO_CABINS.capacity


def test_seat_layout_finds_a_cabin_by_class() -> None:
    business = TWO_CABINS.cabin(Cabin.BUSINESS)
    assert business is not None
    assert business.seats == "AC-DF"
    assert TWO_CABINS.cabin(Cabin.FIRST) is None


def test_seat_layout_lists_seats_from_front_to_back() -> None:
    seats = list(TWO_CABINS.iter_seats())
    assert seats[0].label == "1A"
    assert seats[0].cabin is Cabin.BUSINESS
    assert seats[-1].label == "35F"
    assert seats[-1].cabin is Cabin.ECONOMY


def test_seat_layout_takes_any_iterable_of_cabins() -> None:
    layout = SeatLayout(cabins=[cabin()])
    assert isinstance(layout.cabins, tuple)


def test_seat_layout_needs_a_cabin() -> None:
    with pytest.raises(InvalidRequest, match="at least one cabin") as caught:
        SeatLayout(cabins=())
    assert broken_fields(caught.value) == ["cabins"]


def test_seat_layout_must_not_repeat_a_cabin() -> None:
    with pytest.raises(InvalidRequest, match="must not repeat a cabin") as caught:
        SeatLayout(cabins=(cabin(first_row=1, last_row=5), cabin(first_row=6, last_row=9)))
    assert broken_fields(caught.value) == ["cabins"]


def test_seat_layout_runs_from_first_to_economy() -> None:
    with pytest.raises(InvalidRequest, match="from the front") as caught:
        SeatLayout(
            cabins=(
                cabin(cabin=Cabin.ECONOMY, first_row=1, last_row=5),
                cabin(cabin=Cabin.FIRST, first_row=6, last_row=9),
            )
        )
    assert broken_fields(caught.value) == ["cabins"]


@pytest.mark.parametrize("first_row", [5, 3])
def test_cabin_rows_must_come_after_the_cabin_in_front(first_row: int) -> None:
    with pytest.raises(InvalidRequest, match="after the rows of the cabin in front") as caught:
        SeatLayout(
            cabins=(
                cabin(cabin=Cabin.BUSINESS, first_row=1, last_row=5),
                cabin(cabin=Cabin.ECONOMY, first_row=first_row, last_row=30),
            )
        )
    assert broken_fields(caught.value) == ["cabins.1.first_row"]


def test_four_cabins_in_order_are_valid() -> None:
    layout = SeatLayout(
        cabins=(
            cabin(cabin=Cabin.FIRST, first_row=1, last_row=2, seats="A-D-K"),
            cabin(cabin=Cabin.BUSINESS, first_row=5, last_row=10, seats="AC-DG-HK"),
            cabin(cabin=Cabin.PREMIUM_ECONOMY, first_row=20, last_row=24, seats="AC-DEG-HK"),
            cabin(cabin=Cabin.ECONOMY, first_row=30, last_row=60, seats="ABC-DEFG-HJK"),
        )
    )
    assert [c.cabin for c in layout.cabins] == list(Cabin)


# Airplanes --------------------------------------------------------------------------------------


def test_airplane_keeps_its_layout() -> None:
    plane = Airplane(id=new_id(), model="Airbus A320neo", layout=TWO_CABINS)
    assert plane.layout.capacity == 172


@pytest.mark.parametrize("model", ["", "  ", " A320", "A320 ", "x" * 121])
def test_airplane_model_must_be_trimmed_non_empty_and_short(model: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid airplane") as caught:
        Airplane(id=new_id(), model=model, layout=TWO_CABINS)
    assert broken_fields(caught.value) == ["model"]
