"""PagerDuty's alert event (Events API v2), read from its JSON text by msgspec Structs in one pass.

The pydantic models of pagerduty.py document the event and word what is wrong with one they
refuse; reading with them costs most of what the route spends on an event. `decoded_event`
reads what the models would take, as they would take it, and its payload text as they would
write it; what it cannot tell about, the models read as before, so that they alone refuse:
- no field the models do not name (a link's or an image's own fields among them): msgspec
  passes over an unknown field's value without reading it as the models' parser would;
- custom details of scalars, and lists and objects of them two levels deep at most; integers
  within int64's bounds (the models read any; msgspec bounds them so);
- each instant read and written by pydantic itself;
- a key sent twice counts by its last value, as the models count it (msgspec refuses the
  event when either value is not one the Struct takes).
The payload is written by orjson, whose text of every string and float is pydantic's.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, Union

import msgspec
import orjson
from pydantic import TypeAdapter, ValidationError

from tocsin.actors.domain.events import Severity
from tocsin.actors.store.services import ROUTING_KEY_LENGTH

_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_Scalar = Union[str, _Int, float, bool, None]
_Nested = Union[_Scalar, list[_Scalar], dict[str, _Scalar]]
Details = Union[_Scalar, list[_Nested], dict[str, _Nested]]

_INSTANT = TypeAdapter(datetime)


@lru_cache(maxsize=4096)
def instant_json(text: str) -> str:
    """An instant sent as `text`, as the models read it and write it back; ValueError when it is
    no instant. Cached: a source sends the same instants again."""
    try:
        return str(_INSTANT.dump_python(_INSTANT.validate_json(orjson.dumps(text)), mode="json"))
    except ValidationError:
        raise ValueError("not an instant") from None


class _Wire(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True, gc=False):
    """Knows only its fields; written without those that are None (each one's default)."""


class LinkWire(_Wire):
    href: str
    text: str | None = None


class ImageWire(_Wire):
    src: str
    href: str | None = None
    alt: str | None = None


class PayloadWire(_Wire):
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    severity: Severity
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")
    custom_details: Details = None


class AlertEventWire(_Wire):
    """`AlertEventIn`, read by msgspec; its fields in the model's order, which its payload keeps."""

    routing_key: Annotated[str, msgspec.Meta(min_length=ROUTING_KEY_LENGTH, max_length=ROUTING_KEY_LENGTH)]
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    payload: PayloadWire | None = None
    images: list[ImageWire] | None = None
    links: list[LinkWire] | None = None
    client: str | None = None
    client_url: str | None = None

    def payload_text(self) -> str:
        """The event but its routing key, as JSON text: what `AlertEventIn.payload_text` writes."""
        written: dict[str, Any] = msgspec.to_builtins(self)
        del written["routing_key"]
        if self.payload is not None and self.payload.timestamp is not None:
            written["payload"]["timestamp"] = instant_json(self.payload.timestamp)
        return orjson.dumps(written).decode()


_DECODER = msgspec.json.Decoder(AlertEventWire)


def decoded_event(body: bytes) -> AlertEventWire | None:
    """The alert event of `body`, JSON as sent, read in one pass; None where the one pass cannot
    tell whether the models take it, and how (then they read it)."""
    try:
        event = _DECODER.decode(body)
        if event.payload is not None and event.payload.timestamp is not None:
            instant_json(event.payload.timestamp)
    except (msgspec.DecodeError, ValueError):
        return None
    if (event.payload is None) if event.event_action == "trigger" else (event.dedup_key is None):
        return None  # the models say what it lacks
    return event
