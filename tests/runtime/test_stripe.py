"""The Stripe adapter against a local fake of Stripe's API (tests/fakes/stripe.py), over real
HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airline_core import Airline, Cabin, CabinLayout, InvalidRequest, Money, Principal, Role
from airline_core.booking.model import PaymentStatus
from airline_core.errors import PaymentDeclined, PaymentGatewayUnavailable
from airline_runtime.payments import StripePaymentGateway
from airline_runtime.settings import Settings, SettingsError
from tests.conftest import FAST_HASHER
from tests.contract.test_booking import party
from tests.fakes.stripe import SECRET, FakeStripe
from tests.runtime.conftest import free_port, serving

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    with serving(fake) as url:
        yield fake, url


@pytest.fixture
async def stripe(stripe_server: tuple[FakeStripe, str]) -> AsyncIterator[StripePaymentGateway]:
    gateway = StripePaymentGateway(SECRET, api_url=stripe_server[1])
    yield gateway
    await gateway.aclose()


GBP = Money(45_000, "GBP")


async def test_authorize_capture_refund_follow_payment_intents(
    stripe: StripePaymentGateway, stripe_server: tuple[FakeStripe, str]
) -> None:
    fake = stripe_server[0]
    reference = await stripe.authorize("pay1", GBP, "pm_card_visa", "booking K7QX2M")
    intent = fake.intents[reference]
    assert intent["amount"] == 45_000
    assert intent["currency"] == "gbp"
    assert intent["capture_method"] == "manual"
    assert intent["status"] == "requires_capture"
    assert intent["metadata"] == {"payment_id": "pay1"}
    await stripe.capture("pay1", reference, GBP)
    assert fake.intents[reference]["status"] == "succeeded"
    await stripe.refund("pay1", reference, Money(20_000, "GBP"))
    assert [r["amount"] for r in fake.refunds.values() if r["payment_intent"] == reference] == [
        20_000
    ]


async def test_a_repeated_call_is_the_same_request_to_stripe(
    stripe: StripePaymentGateway, stripe_server: tuple[FakeStripe, str]
) -> None:
    fake = stripe_server[0]
    before = len(fake.intents)
    first = await stripe.authorize("pay2", GBP, "pm_card_visa", "booking")
    again = await stripe.authorize("pay2", GBP, "pm_card_visa", "booking")
    assert first == again
    assert len(fake.intents) == before + 1
    await stripe.capture("pay2", first, GBP)
    await stripe.refund("pay2", first, GBP)
    await stripe.refund("pay2", first, GBP)  # replayed, not refunded twice
    assert sum(r["amount"] for r in fake.refunds.values() if r["payment_intent"] == first) == 45_000


async def test_declines_and_unknown_methods(stripe: StripePaymentGateway) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        await stripe.authorize("pay3", GBP, "pm_card_chargeDeclined", "booking")
    assert declined.value.code == "generic_decline"
    with pytest.raises(PaymentDeclined) as poor:
        await stripe.authorize("pay4", GBP, "pm_card_chargeDeclinedInsufficientFunds", "booking")
    assert poor.value.code == "insufficient_funds"
    with pytest.raises(InvalidRequest, match="payment_method"):
        await stripe.authorize("pay5", GBP, "pm_nope", "booking")


async def test_a_5xx_is_retried_once_with_the_same_key(
    stripe: StripePaymentGateway, stripe_server: tuple[FakeStripe, str]
) -> None:
    fake = stripe_server[0]
    reference = await stripe.authorize("pay6", GBP, "pm_card_fake500", "booking")
    tries = [r for r in fake.requests if r[2].get("metadata[payment_id]") == "pay6"]
    assert len(tries) == 2
    assert fake.intents[reference]["status"] == "requires_capture"


async def test_an_unreachable_or_refusing_stripe_is_unavailable(
    stripe_server: tuple[FakeStripe, str],
) -> None:
    nowhere = StripePaymentGateway(SECRET, api_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(PaymentGatewayUnavailable, match="could not be reached"):
        await nowhere.authorize("pay7", GBP, "pm_card_visa", "booking")
    await nowhere.aclose()
    wrong = StripePaymentGateway("sk_test_wrong", api_url=stripe_server[1])
    with pytest.raises(PaymentGatewayUnavailable, match="credentials"):
        await wrong.authorize("pay8", GBP, "pm_card_visa", "booking")
    await wrong.aclose()


async def test_the_airline_pays_and_refunds_through_stripe(
    stripe: StripePaymentGateway, stripe_server: tuple[FakeStripe, str]
) -> None:
    fake = stripe_server[0]
    async with Airline.in_memory(password_hasher=FAST_HASHER, payment_gateway=stripe) as airline:
        await airline.cities.create(code="LON", name="London", country="GB")
        await airline.cities.create(code="NYC", name="New York", country="US")
        for code, city, country, zone in (
            ("LHR", "LON", "GB", "Europe/London"),
            ("JFK", "NYC", "US", "America/New_York"),
        ):
            await airline.airports.create(
                code=code, name=code, city=city, country=country, time_zone=zone,
                latitude=0.0, longitude=0.0,
            )  # fmt: skip
        from airline_core import SeatLayout

        plane = await airline.airplanes.create(
            model="A320",
            layout=SeatLayout(
                cabins=[CabinLayout(cabin=Cabin.BUSINESS, first_row=1, last_row=2, seats="AC-DF")]
            ),
        )
        departs = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
        flight = await airline.flights.create(
            number="BA1", airline="BA", airplane_id=plane.id, origin="LHR", destination="JFK",
            departs_at=departs, arrives_at=departs + timedelta(hours=8),
            fares={Cabin.BUSINESS: Money.parse("2000.00", "GBP")},
        )  # fmt: skip
        user = await airline.accounts.register(
            email="ann@example.org", password="a long enough passphrase", name="Ann"
        )
        ann = Principal(user_id=user.id, role=Role.CUSTOMER)
        offer = await airline.offer(user.id, [flight.id], "business", 1)
        booking = await airline.hold(ann, offer.id, party(1))
        _, payment = await airline.pay(ann, booking.reference, booking.total, "pm_card_visa")
        assert payment.status is PaymentStatus.CAPTURED
        assert fake.intents[payment.reference or ""]["status"] == "succeeded"
        await airline.cancel(booking.reference, ann)
        refunds = [r for r in fake.refunds.values() if r["payment_intent"] == payment.reference]
        assert [r["amount"] for r in refunds] == [booking.total.minor_units]


def test_stripe_needs_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="AIRLINE_STRIPE_SECRET_KEY"):
        Settings.from_env({"AIRLINE_PAYMENT_GATEWAY": "stripe"})
    settings = Settings.from_env(
        {"AIRLINE_PAYMENT_GATEWAY": "stripe", "AIRLINE_STRIPE_SECRET_KEY": "sk_test_x"}
    )
    assert settings.payment_gateway == "stripe"
    assert "sk_test_x" not in repr(settings)


async def test_bootstrap_wires_stripe_from_the_settings(
    tmp_path: object, stripe_server: tuple[FakeStripe, str]
) -> None:
    from pathlib import Path

    from airline_runtime.bootstrap import bootstrap

    settings = Settings(
        data_dir=Path(str(tmp_path)),
        payment_gateway="stripe",
        stripe_secret_key=SECRET,
        stripe_api_url=stripe_server[1],
    )
    async with bootstrap(settings, migrate=True) as runtime:
        assert isinstance(runtime.airline.payments.gateway, StripePaymentGateway)
