"""VAPID (RFC 8292): the P-256 key pair Tocsin signs its pushes with, which browsers
subscribe with as the `applicationServerKey`.

A private key is given as base64url (the raw 32-byte scalar, as web-push tools print it) or
as PEM; the public key browsers are given is the uncompressed point, base64url without
padding. The key that action tokens are signed with is derived from the private key, so
that every gateway replica and channel actor that can send a push can check its tokens, and
nothing more is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class VapidKeyError(ValueError):
    """A VAPID key that cannot be read, or a public key that is not the private key's pair."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate() -> str:
    """A new private key, as base64url of its raw scalar."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The private key in `text` (base64url raw scalar, or PEM)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) != 32:
                raise VapidKeyError(f"a raw VAPID private key has 32 bytes, not {len(raw)}")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as exc:
        if isinstance(exc, VapidKeyError):
            raise
        raise VapidKeyError(f"not a VAPID private key: {type(exc).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError("a VAPID key is an elliptic-curve key on P-256")
    return key


def raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    """The key as base64url of its raw scalar (how py_vapid and web-push tools take it)."""
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as browsers take it: the uncompressed point, base64url."""
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


def checked_public_key(private_text: str, public_text: str | None) -> str:
    """The public key of `private_text`; VapidKeyError when `public_text` is given and is not it."""
    derived = public_key(private_key(private_text))
    if public_text is not None and public_text.strip().rstrip("=") != derived:
        raise VapidKeyError("TOCSIN_VAPID_PUBLIC_KEY is not the public key of TOCSIN_VAPID_PRIVATE_KEY")
    return derived


def action_key(private_text: str) -> bytes:
    """The key push action tokens are signed with, derived from the VAPID private key."""
    scalar = private_key(private_text).private_numbers().private_value.to_bytes(32, "big")
    return hmac.new(scalar, b"tocsin push action tokens v1", hashlib.sha256).digest()
