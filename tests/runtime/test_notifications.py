"""The notification worker behind the relay and the in-process bus, on every backend: each
booking change reaches each passenger once by email (and by SMS where it matters and they gave
a phone); redeliveries are absorbed; a provider's passing failure is retried without resending
what went out; a refusal is recorded and dead-lettered; templates can be overridden."""

from __future__ import annotations

import email
import email.policy
from datetime import date
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import anyio
import attrs
import pytest

from airline_core import Airline, Principal
from airline_core.booking import Passenger
from airline_core.events import EncodedEvent
from airline_core.ids import new_id
from airline_core.notifications import (
    Channel,
    DeliveryFailed,
    EmailMessage,
    NoticeStatus,
    SmsMessage,
)
from airline_runtime.messaging import InProcessBus, Relay
from airline_runtime.notify import FileNotifier, NotificationWorker, Templates
from tests.conftest import Stores
from tests.contract.test_booking import customer, scheduled

pytestmark = pytest.mark.anyio


def traveller(given: str, email_address: str, phone: str | None) -> Passenger:
    return Passenger(
        given_name=given,
        family_name="Traveller",
        born_on=date(1990, 5, 17),
        email=email_address,
        phone=phone,
    )


class Recording:
    """A notifier that keeps every message and fails as told, per channel."""

    def __init__(self, *failures: DeliveryFailed, channel: Channel = Channel.SMS) -> None:
        self.sent: list[EmailMessage | SmsMessage] = []
        self.failures = list(failures)
        self.failing = channel
        self.channels = frozenset(Channel)

    async def send(self, message: EmailMessage | SmsMessage) -> str:
        channel = Channel.EMAIL if isinstance(message, EmailMessage) else Channel.SMS
        if channel is self.failing and self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"provider-{len(self.sent)}"


class Setup:
    def __init__(self, stores: Stores, notifier: object, templates: Templates) -> None:
        self.stores = stores
        self.worker = NotificationWorker(
            inbox=stores.inbox,
            notifiers={Channel.EMAIL: notifier, Channel.SMS: notifier},  # type: ignore[dict-item]
            flights=stores.flights,
            clock=stores.clock,
            templates=templates,
        )
        self.bus = InProcessBus()
        self.bus.subscribe(self.worker.subscription())
        self.relay = Relay(stores.outbox, self.bus, stores.clock)

    async def drain(self) -> None:
        while (await self.relay.run_once()).claimed:
            pass


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "outbox-files"


async def booked(
    stores: Stores, people: list[Passenger], cabin: str = "business"
) -> tuple[Airline, Principal, str]:
    airline = stores.airline
    flight = await scheduled(stores)
    ann = await customer(airline)
    offer = await airline.offer(ann.user_id, [flight.id], cabin, len(people))
    return airline, ann, (await airline.hold(ann, offer.id, people)).reference


def read_mail(path: Path) -> MimeMessage:
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(mail, MimeMessage)
    return mail


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_each_change_reaches_each_passenger_once(stores: Stores, files: Path) -> None:
    setup = Setup(stores, FileNotifier(files), Templates())
    people = [
        traveller("Ann", "ann@example.org", "+447700900123"),
        traveller("Bob", "bob@example.org", None),  # no phone: no SMS, no error
        traveller("Cy", "ann@example.org", "+447700900123"),  # shares Ann's address and phone
    ]
    airline, ann, reference = await booked(stores, people)
    await setup.drain()
    held = listing(files)
    assert len(held) == 2  # two addresses, no SMS for a hold
    assert all(name.endswith(".eml") for name in held)

    booking = await stores.bookings.get(reference)
    await airline.pay(ann, reference, booking.total, "pm_card_visa")
    await airline.cancel(reference, ann)
    await setup.drain()
    names = listing(files)
    emails = [name for name in names if name.endswith(".eml")]
    texts = [name for name in names if name.endswith(".sms.txt")]
    assert (len(emails), len(texts)) == (6, 2)  # held, confirmed, cancelled x 2; SMS x 1 x 2
    assert (await stores.outbox.status()).pending == 0

    confirmations = [read_mail(files / name) for name in emails]
    # The Message-ID is the notice's key, as the file name is: the same for every attempt.
    assert [m["Message-ID"] for m in confirmations] == [
        f"<{name.removesuffix('.eml')}@airline.invalid>" for name in emails
    ]
    subjects = sorted(str(mail["Subject"]) for mail in confirmations)
    assert subjects.count(f"Booking confirmed: {reference}") == 2
    confirmed = next(m for m in confirmations if m["Subject"] == f"Booking confirmed: {reference}")
    text = confirmed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = confirmed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert reference in text
    # 09:00 UTC in London's local time: summer time began that morning.
    assert "LHR Sun 31 Mar 2030 10:00 BST" in text
    assert "<strong>" in html
    sms = sorted((files / name).read_text() for name in texts)
    assert sms[0].startswith("To: +447700900123")
    assert "cancelled" in sms[0] or "cancelled" in sms[1]
    assert "Refund" in sms[0] + sms[1]  # business fares refund in full

    records = await stores.inbox.records()
    assert len(records) == 8
    assert {record.status for record in records} == {NoticeStatus.SENT}


async def test_a_redelivery_is_absorbed(stores: Stores, files: Path) -> None:
    notifier = Recording()
    setup = Setup(stores, notifier, Templates())
    await booked(stores, [traveller("Ann", "ann@example.org", "+447700900123")])
    [entry] = await stores.outbox.claim("peek", stores.clock.now(), setup.relay.lease, 10)
    await stores.outbox.retry("peek", entry.event.id, "peeked", stores.clock.now())
    await setup.drain()
    assert len(notifier.sent) == 1
    assert await setup.worker.handle(entry.event) == "duplicate"
    assert len(notifier.sent) == 1


async def test_a_passing_failure_is_retried_without_resending(stores: Stores, files: Path) -> None:
    notifier = Recording(DeliveryFailed("Twilio answered 503", permanent=False))
    setup = Setup(stores, notifier, Templates())
    airline, ann, reference = await booked(
        stores, [traveller("Ann", "ann@example.org", "+447700900123")]
    )
    booking = await stores.bookings.get(reference)
    await airline.pay(ann, reference, booking.total, "pm_card_visa")
    await setup.drain()
    assert [type(m).__name__ for m in notifier.sent] == ["EmailMessage", "EmailMessage"]
    status = await stores.outbox.status()
    assert status.pending == 1  # the confirmation, waiting for its retry
    stores.clock.advance(seconds=1)
    await setup.drain()
    kinds = [type(m).__name__ for m in notifier.sent]
    assert kinds == ["EmailMessage", "EmailMessage", "SmsMessage"]  # the email not again
    assert (await stores.outbox.status()).pending == 0


async def test_a_refusal_is_recorded_and_dead_lettered(stores: Stores, files: Path) -> None:
    notifier = Recording(
        DeliveryFailed("SendGrid answered 400: invalid address", permanent=True),
        channel=Channel.EMAIL,
    )
    setup = Setup(stores, notifier, Templates())
    await booked(stores, [traveller("Ann", "ann@example.org", "+447700900123")])
    await setup.drain()
    [dead] = setup.bus.dead_letters
    assert "invalid address" in dead.reason
    [record] = await stores.inbox.records()
    assert (record.status, record.error) == (
        NoticeStatus.FAILED,
        "SendGrid answered 400: invalid address",
    )
    assert (await stores.outbox.status()).pending == 0  # dead-lettered, not retried


async def test_templates_can_be_overridden_and_a_broken_one_is_dead_lettered(
    stores: Stores, files: Path, tmp_path: Path
) -> None:
    override = tmp_path / "templates"
    override.mkdir()
    (override / "booking_held.subject.txt").write_text("Held & waiting: {{ booking.reference }}")
    (override / "booking_held.html").write_text("<p>{{ name }} &amp; {{ booking.reference }}</p>")
    notifier = Recording()
    setup = Setup(stores, notifier, Templates(override))
    _, _, reference = await booked(stores, [traveller("Ann", "ann@example.org", None)])
    await setup.drain()
    [message] = notifier.sent
    assert isinstance(message, EmailMessage)
    assert message.subject == f"Held & waiting: {reference}"
    assert message.html == f"<p>Ann Traveller &amp; {reference}</p>"
    assert "Pay by" in message.text  # the package's text part, not overridden

    (override / "booking_held.subject.txt").write_text("{{ no_such_name }}")
    setup.worker.templates = Templates(override)  # templates are read once: a restart
    await booked_again(stores)
    await setup.drain()
    [dead] = setup.bus.dead_letters
    assert "no_such_name" in dead.reason


async def booked_again(stores: Stores) -> None:
    airline = stores.airline
    flight = (await airline.flights.list()).items[0]
    bob = await customer(airline, "bob")
    offer = await airline.offer(bob.user_id, [flight.id], "economy", 1)
    await airline.hold(bob, offer.id, [traveller("Bob", "bob@example.org", None)])


async def test_an_unknown_event_is_dead_lettered_not_retried(stores: Stores) -> None:
    setup = Setup(stores, Recording(), Templates())
    event = EncodedEvent(
        id="01JAAAAAAAAAAAAAAAAAAAAA00",
        type="booking.rebooked",
        version=1,
        occurred_at=stores.clock.now(),
        payload="{}",
    )
    setup.bus.subscriptions[0] = setup.bus.subscriptions[0].__class__(
        "n", ("#",), setup.worker.handle
    )
    await stores.outbox.add([event], stores.clock.now())
    await setup.drain()
    [dead] = setup.bus.dead_letters
    assert "unknown event type 'booking.rebooked'" in dead.reason


async def test_a_message_twice_in_one_batch_is_sent_once(stores: Stores) -> None:
    notifier = Recording()
    setup = Setup(stores, notifier, Templates())
    await booked(stores, [traveller("Ann", "ann@example.org", "+447700900123")])
    [entry] = await stores.outbox.claim("peek", stores.clock.now(), setup.relay.lease, 10)
    event = entry.event
    assert await setup.worker.handle_many([event, event]) == [None, "duplicate"]
    assert len(notifier.sent) == 1
    assert len(await stores.inbox.records()) == 1
    assert await setup.worker.handle_many([event]) == ["duplicate"]


async def test_an_unexpected_failure_fails_its_message_not_the_batch(stores: Stores) -> None:
    class Flaky(Recording):
        async def send(self, message: EmailMessage | SmsMessage) -> str:
            if message.to == "bob@example.org":
                raise RuntimeError("a bug in a notifier")
            return await super().send(message)

    notifier = Flaky()
    setup = Setup(stores, notifier, Templates())
    await booked(stores, [traveller("Ann", "ann@example.org", None)])
    await booked_again(stores)  # Bob's
    claimed = await stores.outbox.claim("peek", stores.clock.now(), setup.relay.lease, 10)
    outcomes = await setup.worker.handle_many([entry.event for entry in claimed])
    assert outcomes[0] is None
    assert isinstance(outcomes[1], RuntimeError)
    assert [record.to for record in await stores.inbox.records()] == ["ann@example.org"]


async def test_a_batch_reads_its_flight_once(stores: Stores) -> None:
    class Counting:
        def __init__(self) -> None:
            self.reads = 0

        async def get(self, flight_id: str) -> object:
            self.reads += 1
            await anyio.sleep(0.01)  # the other messages of the batch ask meanwhile
            return await stores.flights.get(flight_id)

    setup = Setup(stores, Recording(), Templates())
    counting = Counting()
    setup.worker.flights = counting  # type: ignore[assignment]
    await booked(stores, [traveller("Ann", "ann@example.org", None)])
    [entry] = await stores.outbox.claim("peek", stores.clock.now(), setup.relay.lease, 10)
    copies = [attrs.evolve(entry.event, id=new_id()) for _ in range(10)]
    assert await setup.worker.handle_many(copies) == [None] * 10
    assert counting.reads == 1
