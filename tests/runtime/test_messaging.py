"""The relay, the in-process bus and the wire format: events leave the outbox only once a bus
confirmed them; refusals back off and are given up after their limit; a broker outage changes
nothing in the outbox; a rejected event is dead-lettered, not retried."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest

from airline_core import FakeClock
from airline_core.booking import Booking
from airline_core.events import BookingHeld, EncodedEvent, UnknownEvent, decode, encode
from airline_core.memory import MemoryOutboxStore
from airline_core.ports import OutboxStore
from airline_runtime.messaging import (
    BrokerUnavailable,
    InProcessBus,
    Published,
    Reject,
    Relay,
    RetryLater,
    Subscription,
    topic_matches,
)
from airline_runtime.messaging.wire import from_body, to_body
from tests.conftest import TEST_NOW, Stores
from tests.contract.test_booking import customer, party, scheduled

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("booking.#", "booking.held", True),
        ("booking.#", "booking", True),
        ("#", "payment.failed", True),
        ("*.held", "booking.held", True),
        ("*.held", "held", False),
        ("booking.*", "booking.held.late", False),
        ("booking.held", "booking.held", True),
        ("booking.held", "booking.helds", False),
        ("a.#.b", "a.b", True),
        ("a.#.b", "a.x.y.b", True),
        ("a.#.b", "a.x.c", False),
    ],
)
def test_topic_patterns_route_as_a_topic_exchange_does(
    pattern: str, key: str, expected: bool
) -> None:
    assert topic_matches(pattern, key) is expected


def an_event(n: int = 0) -> EncodedEvent:
    return EncodedEvent(
        id=f"01JAAAAAAAAAAAAAAAAAAAAA{n:02d}",
        type="booking.held",
        version=1,
        occurred_at=TEST_NOW,
        payload='{"name":"Zoë","n":' + str(n) + "}",
    )


def test_a_body_carries_the_whole_event() -> None:
    event = an_event()
    assert from_body(to_body(event)) == event


def test_a_body_from_another_publisher_is_read_whatever_its_layout() -> None:
    body = (
        b'{ "payload" : { "name" : "Zo\\u00eb", "n" : 0 } , "version": 1, "extra": [1],'
        b' "occurred_at": "2030-03-01T12:00:00+00:00", "type": "booking.held",'
        b' "id": "01JAAAAAAAAAAAAAAAAAAAAA00" }'
    )
    event = from_body(body)
    assert (event.id, event.type, event.version) == (an_event().id, "booking.held", 1)
    assert json.loads(event.payload) == json.loads(an_event().payload)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"id":"x","type":"booking.held","version":1}',
        b'{"id":"x","type":"booking.held","version":1,"occurred_at":"2030-03-01T12:00:00",'
        b'"payload":{}}',
        b'{"id":"","type":"booking.held","version":1,"occurred_at":"2030-03-01T12:00:00+00:00",'
        b'"payload":{}}',
        b'{"id":"x","type":"booking.held","version":1,"occurred_at":"2030-03-01T12:00:00+00:00",'
        b'"payload":[1]}',
        b'{"id":"x","type":"booking.held","version":1,"occurred_at":"2030-03-01T12:00:00+00:00",'
        b'"payload":{"n":}}',
        b'{"id":"x","type":"booking.held","version":"one",'
        b'"occurred_at":"2030-03-01T12:00:00+00:00","payload":{}}',
        b'{"id":"x","type":"booking.held","version":1,"occurred_at":"yesterday","payload":{}}',
    ],
)
def test_a_malformed_body_is_an_unknown_event(body: bytes) -> None:
    with pytest.raises(UnknownEvent):
        from_body(body)


class Recorder:
    """A handler that records what it saw and fails as told."""

    def __init__(self, *failures: Exception) -> None:
        self.seen: list[EncodedEvent] = []
        self.failures = list(failures)

    async def __call__(self, event: EncodedEvent) -> None:
        self.seen.append(event)
        if self.failures:
            raise self.failures.pop(0)


def relay_on(outbox: OutboxStore, clock: FakeClock, *subscriptions: Subscription) -> Relay:
    bus = InProcessBus()
    for subscription in subscriptions:
        bus.subscribe(subscription)
    return Relay(outbox, bus, clock, batch=50)


async def test_the_relay_hands_events_to_the_bus_and_empties_the_outbox(stores: Stores) -> None:
    airline = stores.airline
    await scheduled(stores)
    ann = await customer(airline)
    flight = (await airline.flights.list()).items[0]
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    booking = await airline.hold(ann, offer.id, party(1))
    seen, other = Recorder(), Recorder()
    relay = relay_on(
        stores.outbox,
        stores.clock,
        Subscription("notifications", ("booking.#",), seen),
        Subscription("flights", ("flight.#",), other),
    )
    done = await relay.run_once()
    assert (done.claimed, done.published) == (1, 1)
    [event] = [decode(event) for event in seen.seen]
    assert isinstance(event, BookingHeld)
    assert event.booking == booking
    assert other.seen == []  # not bound to booking events
    assert (await stores.outbox.status()).pending == 0
    assert (await relay.run_once()).claimed == 0


async def test_a_refused_event_backs_off_and_is_given_up_after_its_limit() -> None:
    outbox, clock = MemoryOutboxStore(), FakeClock(TEST_NOW)
    handler = Recorder(*[RetryLater("provider answered 503")] * 3)
    relay = relay_on(outbox, clock, Subscription("notifications", ("#",), handler))
    relay.max_failures = 3
    await outbox.add([an_event()], TEST_NOW)
    assert (await relay.run_once()).retried == 1
    assert (await relay.run_once()).claimed == 0  # waiting out 1 s
    clock.advance(seconds=1)
    assert (await relay.run_once()).retried == 1
    clock.advance(seconds=1)
    assert (await relay.run_once()).claimed == 0  # the second wait is 2 s
    clock.advance(seconds=1)
    done = await relay.run_once()
    assert (done.retried, done.gave_up) == (0, 1)
    status = await outbox.status()
    assert (status.pending, status.failed) == (0, 1)
    assert "notifications: RetryLater: provider answered 503" in status.failures[0][2]
    assert len(handler.seen) == 3

    assert await outbox.requeue(clock.now()) == 1
    assert (await relay.run_once()).published == 1  # the handler works now
    assert (await outbox.status()).pending == 0


def test_backoff_doubles_up_to_its_ceiling() -> None:
    relay = Relay(MemoryOutboxStore(), InProcessBus(), FakeClock(TEST_NOW))
    waits = [relay.backoff(n).total_seconds() for n in (1, 2, 3, 9, 10, 50)]
    assert waits == [1, 2, 4, 256, 300, 300]


async def test_a_rejected_event_is_dead_lettered_and_confirmed() -> None:
    outbox, clock = MemoryOutboxStore(), FakeClock(TEST_NOW)
    bus = InProcessBus()
    bus.subscribe(Subscription("notifications", ("#",), Recorder(Reject("no such template"))))
    relay = Relay(outbox, bus, clock)
    await outbox.add([an_event()], TEST_NOW)
    assert (await relay.run_once()).published == 1
    [dead] = bus.dead_letters
    assert (dead.subscription, dead.event, dead.reason) == (
        "notifications",
        an_event(),
        "no such template",
    )
    assert (await outbox.status()).pending == 0


class DownBroker:
    async def publish(self, events: object) -> Published:
        raise BrokerUnavailable("RabbitMQ connection is down")


class FlakyBroker:
    """Confirms the first event, refuses the second, loses the rest with the connection."""

    async def publish(self, events: list[EncodedEvent]) -> Published:
        return Published(
            confirmed=(events[0].id,),
            failed=((events[1].id, "nacked by the broker"),),
            lost=tuple(event.id for event in events[2:]),
        )


async def test_a_broker_outage_changes_nothing_and_lost_confirms_go_out_again() -> None:
    outbox, clock = MemoryOutboxStore(), FakeClock(TEST_NOW)
    await outbox.add([an_event(n) for n in range(4)], TEST_NOW)
    with pytest.raises(BrokerUnavailable):
        await Relay(outbox, DownBroker(), clock).run_once()
    # Released at once, not left to the lease: another relay takes them now, no failure counted.
    relay = Relay(outbox, FlakyBroker(), clock)  # type: ignore[arg-type]
    done = await relay.run_once()
    assert (done.claimed, done.published, done.retried, done.lost) == (4, 1, 1, 2)
    assert (await outbox.status()).pending == 3
    again = await outbox.claim("check", clock.now(), timedelta(seconds=60), 10)
    # The lost two are free at once and count no failure; the refused one waits out its 1 s.
    assert [(entry.event.id, entry.failures) for entry in again] == [
        (an_event(2).id, 0),
        (an_event(3).id, 0),
    ]
    clock.advance(seconds=1)
    [refused] = await outbox.claim("check-2", clock.now(), timedelta(seconds=1), 10)
    assert (refused.event.id, refused.failures) == (an_event(1).id, 1)


class ForgetfulOutbox(MemoryOutboxStore):
    """An outbox whose database goes away just when claims are to be released."""

    async def release(self, owner: str, event_ids: Sequence[str]) -> int:
        raise OSError("database unreachable")


async def test_claims_that_cannot_be_released_lapse_with_their_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox, clock = ForgetfulOutbox(), FakeClock(TEST_NOW)
    await outbox.add([an_event(0)], TEST_NOW)
    relay = Relay(outbox, DownBroker(), clock)
    with pytest.raises(BrokerUnavailable):  # the broker's error, not the database's
        await relay.run_once()
    assert "claims left to lapse" in caplog.text
    assert await outbox.claim("other", clock.now(), timedelta(seconds=1), 10) == []
    clock.advance(relay.lease)
    assert len(await outbox.claim("other", clock.now(), timedelta(seconds=1), 10)) == 1


async def test_events_survive_any_handler_until_it_succeeds(stores: Stores) -> None:
    """An unexpected error is retried like RetryLater (a bug never drops an event)."""
    handler = Recorder(RuntimeError("template bug"))
    relay = relay_on(stores.outbox, stores.clock, Subscription("n", ("#",), handler))
    event = encode(BookingHeld(occurred_at=TEST_NOW, booking=await a_booking(stores)))
    await stores.outbox.add([event], TEST_NOW)
    assert (await relay.run_once()).retried == 1
    stores.clock.advance(seconds=1)
    assert (await relay.run_once()).published == 1
    assert [seen.id for seen in handler.seen] == [event.id, event.id]


async def a_booking(stores: Stores) -> Booking:
    """A held booking, its own event already taken out of the outbox."""
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], "economy", 1)
    booking = await airline.hold(ann, offer.id, party(1))
    claimed = await stores.outbox.claim("setup", stores.clock.now(), timedelta(seconds=1), 10)
    await stores.outbox.sent("setup", [entry.event.id for entry in claimed])
    return booking
