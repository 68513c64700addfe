"""The provider notifiers against local servers that speak their protocols: SMTP against a real
aiosmtpd server; SendGrid and Twilio against fakes that follow their documented requests and
answers (tests/fakes). Each: sent, passing failure (retried), permanent failure."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage as MimeMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from airline_core.notifications import Channel, DeliveryFailed, EmailMessage, SmsMessage
from airline_runtime.notify.files import compose
from airline_runtime.notify.sendgrid import SendGridNotifier
from airline_runtime.notify.smtp import SMTPNotifier
from airline_runtime.notify.twilio import TwilioNotifier
from tests.fakes.sendgrid import API_KEY, FakeSendGrid
from tests.fakes.twilio import ACCOUNT, TOKEN, FakeTwilio
from tests.runtime.conftest import free_port, serving

pytestmark = pytest.mark.anyio


def an_email(to: str = "ann@example.org") -> EmailMessage:
    return EmailMessage(
        key="01JAAAAAAAAAAAAAAAAAAAAA00.email.0123456789ab",
        to=to,
        name="Ann Traveller",
        subject="Booking confirmed: ABC123",
        text="Your booking ABC123 is confirmed.\n",
        html="<p>Your booking <strong>ABC123</strong> is confirmed.</p>",
    )


def an_sms(to: str = "+447700900123") -> SmsMessage:
    return SmsMessage(key="01JAAAAAAAAAAAAAAAAAAAAA00.sms.0123456789ab", to=to, text="ABC123 ok")


class Mailbox:
    """An aiosmtpd handler: keeps what it accepts; refuses ``refused@``, defers ``later@``."""

    def __init__(self) -> None:
        self.messages: list[MimeMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 mailbox unknown"
        if address.startswith("later@"):
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, MimeMessage)
        self.messages.append(mail)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def smtp(port: int) -> SMTPNotifier:
    return SMTPNotifier(
        host="127.0.0.1", port=port, sender="Airline <bookings@airline.example>", security="none"
    )


async def test_smtp_sends_both_parts_with_the_notices_message_id(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    provider_id = await smtp(port).send(an_email())
    [mail] = mailbox.messages
    assert mailbox.envelopes == [("bookings@airline.example", ["ann@example.org"])]
    assert mail["Subject"] == "Booking confirmed: ABC123"
    assert mail["To"] == "Ann Traveller <ann@example.org>"
    assert mail["Message-ID"] == provider_id == f"<{an_email().key}@airline.example>"
    assert "confirmed" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<strong>" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_smtp_sorts_refusals_from_passing_failures(
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, port = smtp_server
    with pytest.raises(DeliveryFailed, match="550") as refused:
        await smtp(port).send(an_email("refused@example.org"))
    assert refused.value.permanent
    with pytest.raises(DeliveryFailed, match="451") as later:
        await smtp(port).send(an_email("later@example.org"))
    assert not later.value.permanent
    with pytest.raises(DeliveryFailed, match="unreachable") as down:
        await smtp(free_port()).send(an_email())  # nothing listens there
    assert not down.value.permanent
    with pytest.raises(DeliveryFailed) as wrong:
        await smtp(port).send(an_sms())
    assert wrong.value.permanent


@pytest.fixture(scope="module")
def sendgrid_server() -> Iterator[tuple[FakeSendGrid, str]]:
    fake = FakeSendGrid()
    with serving(fake) as url:
        yield fake, url


async def test_sendgrid_posts_the_documented_mail_send_body(
    sendgrid_server: tuple[FakeSendGrid, str],
) -> None:
    fake, url = sendgrid_server
    notifier = SendGridNotifier(API_KEY, "Airline <bookings@airline.example>", api_url=url)
    try:
        provider_id = await notifier.send(an_email())
        assert provider_id.startswith("sg-")
        mail = fake.sent[-1]
        assert mail["personalizations"] == [
            {"to": [{"email": "ann@example.org", "name": "Ann Traveller"}]}
        ]
        assert mail["from"] == {"email": "bookings@airline.example", "name": "Airline"}
        assert [part["type"] for part in mail["content"]] == ["text/plain", "text/html"]
        assert mail["custom_args"] == {"notification_key": an_email().key}

        with pytest.raises(DeliveryFailed, match="400: Does not contain a valid address") as bad:
            await notifier.send(an_email("bounce@example.org"))
        assert bad.value.permanent
        with pytest.raises(DeliveryFailed, match="503") as busy:
            await notifier.send(an_email("flaky@example.org"))
        assert not busy.value.permanent
        assert (await notifier.send(an_email("flaky@example.org"))).startswith("sg-")
    finally:
        await notifier.aclose()
    wrong_key = SendGridNotifier("SG.wrong", "bookings@airline.example", api_url=url)
    with pytest.raises(DeliveryFailed, match="401") as denied:
        await wrong_key.send(an_email())
    assert not denied.value.permanent  # a key to fix: what waits goes out once it is
    await wrong_key.aclose()


@pytest.fixture(scope="module")
def twilio_server() -> Iterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio()
    with serving(fake) as url:
        yield fake, url


async def test_twilio_posts_the_documented_messages_form(
    twilio_server: tuple[FakeTwilio, str],
) -> None:
    fake, url = twilio_server
    notifier = TwilioNotifier(ACCOUNT, TOKEN, "+15005550006", api_url=url)
    service = TwilioNotifier(ACCOUNT, TOKEN, "MG" + "1" * 32, api_url=url)
    try:
        sid = await notifier.send(an_sms())
        assert sid.startswith("SM")
        assert fake.sent[-1] == {"To": "+447700900123", "Body": "ABC123 ok", "From": "+15005550006"}
        await service.send(an_sms())
        assert fake.sent[-1]["MessagingServiceSid"] == "MG" + "1" * 32

        with pytest.raises(DeliveryFailed, match="21211") as invalid:
            await notifier.send(an_sms("+15005550001"))
        assert invalid.value.permanent
        with pytest.raises(DeliveryFailed, match="500") as busy:
            await notifier.send(an_sms("+15005550009"))
        assert not busy.value.permanent
        assert (await notifier.send(an_sms("+15005550009"))).startswith("SM")
        with pytest.raises(DeliveryFailed) as wrong:
            await notifier.send(an_email())
        assert wrong.value.permanent
    finally:
        await notifier.aclose()
        await service.aclose()


async def test_a_provider_that_times_out_is_a_passing_failure() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    transport = httpx.MockTransport(hang)
    sendgrid = SendGridNotifier(API_KEY, "b@airline.example", transport=transport)
    twilio = TwilioNotifier(ACCOUNT, TOKEN, "+15005550006", transport=transport)
    assert (sendgrid.channels, twilio.channels) == ({Channel.EMAIL}, {Channel.SMS})
    with pytest.raises(DeliveryFailed, match="SendGrid unreachable: ReadTimeout") as slow_mail:
        await sendgrid.send(an_email())
    with pytest.raises(DeliveryFailed, match="Twilio unreachable: ReadTimeout") as slow_sms:
        await twilio.send(an_sms())
    assert not slow_mail.value.permanent
    assert not slow_sms.value.permanent
    await sendgrid.aclose()
    await twilio.aclose()


def test_a_composed_email_reads_back_with_non_ascii_names_and_both_parts() -> None:
    message = EmailMessage(
        key="01JAAAAAAAAAAAAAAAAAAAAA00.email.0123456789ab",
        to="zoe@example.org",
        name="Zoë O'Brien",
        subject="Réservation confirmée: ABC123",
        text="Bonjour Zoë,\nvotre réservation est confirmée.\n" + "long line " * 40,
        html="<p>Bonjour <strong>Zoë</strong></p>",
    )
    raw = compose(message, "Compagnie Aérienne <bookings@airline.example>")
    assert raw.isascii()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, MimeMessage)
    assert str(mail["Subject"]) == "Réservation confirmée: ABC123"
    assert str(mail["To"]) == "Zoë O'Brien <zoe@example.org>"
    assert str(mail["From"]) == "Compagnie Aérienne <bookings@airline.example>"
    assert mail["Message-ID"] == f"<{message.key}@airline.example>"
    assert mail["Date"] is not None
    assert mail.get_body(("plain",)).get_content() == message.text  # type: ignore[union-attr]
    assert mail.get_body(("html",)).get_content() == message.html  # type: ignore[union-attr]
