"""What a reply to a page e-mail means: the first line the person wrote, above quotes,
attributions and signatures, in plain text or HTML; the subject when the text holds nothing;
and the reply addresses' form."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tocsin.actors.domain.email_replies import Command, address, command_of, token_of
from tocsin.actors.store.email_replies import new_token
from tocsin.serve.ingest.mail import parse_message, reply_text

PAGE = "Tocsin #12 [checkout] checkout 5xx\n\nService: checkout\nUrgency: high"


@pytest.mark.parametrize(("text", "command"), [
    ("ack", Command.ACKNOWLEDGE),
    ("ACK\n", Command.ACKNOWLEDGE),
    ("  Acknowledge.  ", Command.ACKNOWLEDGE),
    ("Acknowledged!", Command.ACKNOWLEDGE),
    ("resolve", Command.RESOLVE),
    ("Resolved, it was the cache", Command.RESOLVE),
    ("escalate please, I'm on a plane", Command.ESCALATE),
    ("\n\n\nack\n", Command.ACKNOWLEDGE),
    ("I will ack this", None),
    ("acked", None),
    ("thanks", None),
    ("", None),
])
def test_the_first_word_of_the_first_line_is_the_command(text: str, command: Command | None) -> None:
    assert command_of(text) is command


def test_a_top_posted_reply_is_read_above_the_quote() -> None:
    text = f"resolve\n\nOn Mon, 3 Jun 2024 at 02:14, Tocsin <reply+x@alerts.example> wrote:\n> {PAGE}"
    assert command_of(text) is Command.RESOLVE


def test_quoted_lines_and_attributions_are_passed_over_when_the_reply_is_below_them() -> None:
    quoted = "\n".join(f"> {line}" for line in PAGE.splitlines())
    text = f"On Mon, 3 Jun 2024 at 02:14, Tocsin <\nreply+abc@alerts.example> wrote:\n{quoted}\n\nack\n"
    assert command_of(text) is Command.ACKNOWLEDGE
    assert command_of(f"Tocsin <reply+abc@alerts.example> schrieb am 03.06.24:\n{quoted}\nescalate") is (
        Command.ESCALATE)


@pytest.mark.parametrize("ending", [
    "-- \nAlice\nSRE", "Sent from my iPhone", "-----Original Message-----\nFrom: Tocsin\nack",
    "________________________________\nFrom: Tocsin <reply+abc@alerts.example>\nack",
])
def test_a_signature_or_an_unmarked_original_ends_the_reply(ending: str) -> None:
    assert command_of(f"\n{ending}\n{PAGE}") is None
    assert command_of(f"ack\n{ending}") is Command.ACKNOWLEDGE


def test_with_no_text_the_subject_is_read() -> None:
    assert command_of("", "ack") is Command.ACKNOWLEDGE
    assert command_of("\n> quoted\n", "Re: Resolve") is Command.RESOLVE
    assert command_of("", "Re: Tocsin #12 [checkout] checkout 5xx") is None
    assert command_of("thanks", "ack") is None  # the text decides when there is one


def message(plain: str | None = None, html: str | None = None, subject: str = "Re: page") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "alice@example.com", "reply+x@alerts.example", subject
    if plain is not None:
        mail.set_content(plain)
    if html is not None:
        (mail.add_alternative if plain is not None else mail.set_content)(html, subtype="html")
    return parse_message(mail.as_bytes())


def test_an_html_only_reply_is_read_without_its_tags_and_its_quote() -> None:
    gmail = ('<div dir="ltr">Ack<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
             'On Mon, Jun 3, 2024 at 2:14 AM Tocsin &lt;reply+x@alerts.example&gt; wrote:<br></div>'
             '<blockquote class="gmail_quote">Resolve the page</blockquote></div>')
    assert command_of(reply_text(message(html=gmail))) is Command.ACKNOWLEDGE
    outlook_empty = '<html><body><p></p><blockquote>resolve</blockquote></body></html>'
    assert command_of(reply_text(message(html=outlook_empty)), "escalate") is Command.ESCALATE


def test_the_plain_part_is_preferred_to_the_html_one() -> None:
    assert command_of(reply_text(message("resolve\n\n> page", "<p>ack</p>"))) is Command.RESOLVE


def test_reply_addresses_are_told_apart_from_integration_addresses() -> None:
    token = new_token()
    local = address(token, "alerts.example").rpartition("@")[0]
    assert token_of(local) == token and token_of(local.upper()) == token
    assert len(token) == 26 and token != new_token()
    for not_one in ("a" * 32, "reply+", "reply+" + token[:-1], "reply+" + token + "x", "reply-" + token,
                    "reply+" + token.replace(token[0], "1")):
        assert token_of(not_one) is None
