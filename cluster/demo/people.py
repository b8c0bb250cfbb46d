"""Who the demo organisation pages: four people in two time zones, each reached by text, call,
e-mail and push on the demo phone. Numbers and addresses are ones no real phone or mailbox has:
+44 7700 900xxx is set aside by Ofcom for drama, +1 555-01xx is fictional in North America,
and .example is a reserved domain."""

from __future__ import annotations

from dataclasses import dataclass

DOMAIN = "tocsin-demo.example"
# Twilio's own test number: the demo's "from" number.
TOCSIN_NUMBER = "+15005550006"
SENDER = f"tocsin@{DOMAIN}"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    time_zone: str
    phone: str

    @property
    def email(self) -> str:
        return f"{self.name.split()[0].lower()}@{DOMAIN}"

    @property
    def push_endpoint(self) -> str:
        """The SNS platform endpoint ARN of their phone's app."""
        return f"arn:aws:sns:us-east-1:000000000000:endpoint/GCM/tocsin-demo/{self.name.split()[0].lower()}"

    def addresses(self) -> frozenset[str]:
        return frozenset({self.phone, self.email, self.push_endpoint})


BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

PEOPLE = (
    Person("Lena Fischer", BERLIN, "+447700900101"),
    Person("Jonas Weber", BERLIN, "+447700900102"),
    Person("Priya Raman", NEW_YORK, "+12025550143"),
    Person("Marcus Reed", NEW_YORK, "+12025550144"),
)


def owner_of(address: str) -> Person | None:
    """The demo person a phone number, e-mail address or push endpoint belongs to."""
    return next((person for person in PEOPLE if address in person.addresses()), None)
