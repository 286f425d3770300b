"""Sealing the cluster bus's envelopes: Redis carries them, but can neither read nor forge them.

Every envelope one node sends another through Redis (`signaling.redis_bus`) holds what a
room says: names (welcome, lobby, peer-joined), SDP with addresses, forwarded `admit` and
`join` operations. `EnvelopeSeal` encrypts and authenticates each one with AES-256-GCM
under the group's bus key (one key in the shared database, `server.storage.server_secrets`
`bus_seal_key`), so whoever reads Redis sees node ids, room ids, sequence numbers, sizes
and timing only, and whoever writes to it can deliver nothing a node takes in.

The associated data binds a sealed envelope to its key id and to its channel (the
receiving node and the room): one copied into another inbox or another room's line does
not open. A node's id is new at every start, so nothing sealed for an earlier process
opens in a later one; within a process, the bus drops what repeats a sender's number.

Random 96-bit nonces are safe for about 2**32 messages per key (NIST SP 800-38D); the bus
key lives as long as the database, so each `EnvelopeSeal` seals under its own subkey,
derived (HKDF-SHA256) from the bus key and a random 128-bit salt made when it is built,
and the salt travels in the envelope. The bound then holds per process, not per group.

A sealed envelope is ASCII (base64url, no padding): no space or newline, which the bus
uses to split lines and fields. Layout before encoding: version (1 byte), key id (4),
salt (16), nonce (12), ciphertext with its 16-byte tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from signaling.ids import VISIT_ID

log = logging.getLogger(__name__)

KEY_BYTES = 32
"""The bus key: 256 bits, for AES-256-GCM."""
VERSION = 1
_KID_BYTES, _SALT_BYTES, _NONCE_BYTES, _TAG_BYTES = 4, 16, 12, 16
_HEADER_BYTES = 1 + _KID_BYTES + _SALT_BYTES
_SHORTEST = _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES
_SUBKEYS_KEPT = 256
"""Subkeys of other processes kept derived (a group has a handful; a flood of made-up
salts only costs a derivation each)."""


class SealError(Exception):
    """An envelope that does not open: malformed, sealed under another key or for another
    channel, altered, or truncated. `reason` names which, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_id(key: bytes) -> bytes:
    """The id of a bus key (4 bytes of a hash: it tells keys apart, and reveals nothing)."""
    return hashlib.sha256(b"visitroom bus key id\x00" + key).digest()[:_KID_BYTES]


def _context(kid: bytes, node: str, room: str) -> bytes:
    parts = [part.encode() for part in (node, room)]
    return b"visitroom-bus\x00" + kid + b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def _subkey(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                       info=b"visitroom bus seal v1").derive(key))


class EnvelopeSeal:
    """Seals and opens the bus's envelopes under one group key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a bus key has {KEY_BYTES} bytes, not {len(key)}")
        self._key = key
        self.kid = key_id(key)
        self._salt = os.urandom(_SALT_BYTES)
        self._header = bytes([VERSION]) + self.kid + self._salt
        self._sealer = _subkey(key, self._salt)
        self._openers: dict[bytes, AESGCM] = {self._salt: self._sealer}
        self.refused = 0
        """How many envelopes `open_or_drop` refused (for tests and the log)."""

    def seal(self, plain: bytes, node: str, room: str) -> str:
        """`plain` encrypted and authenticated for `node`'s inbox and `room`, as ASCII."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealer.encrypt(nonce, plain, _context(self.kid, node, room))
        return base64.urlsafe_b64encode(self._header + nonce + sealed).rstrip(b"=").decode()

    def open(self, text: str, node: str, room: str) -> bytes:
        """The plain envelope sealed for `node`'s inbox and `room`; `SealError` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SealError("malformed") from None
        if len(raw) < _SHORTEST or raw[0] != VERSION:
            raise SealError("malformed")
        kid, salt = raw[1:1 + _KID_BYTES], raw[1 + _KID_BYTES:_HEADER_BYTES]
        if kid != self.kid:
            raise SealError("other_key")
        body = raw[_HEADER_BYTES:]
        nonce, sealed = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
        try:
            return self._opener(salt).decrypt(nonce, sealed, _context(kid, node, room))
        except InvalidTag:
            raise SealError("tampered") from None

    def open_or_drop(self, text: str, node: str, room: str) -> bytes | None:
        """`open`, or None for an envelope that does not open: counted, and logged with
        the node and room ids only (never the envelope)."""
        try:
            return self.open(text, node, room)
        except SealError as exc:
            self.refused += 1
            # The room comes from Redis: logged only when it is a visit id.
            shown = room if room == "-" or VISIT_ID.fullmatch(room) else "(not an id)"
            log.warning("bus envelope refused node=%s room=%s reason=%s refused=%d",
                        node, shown, exc.reason, self.refused)
            return None

    def _opener(self, salt: bytes) -> AESGCM:
        opener = self._openers.get(salt)
        if opener is None:
            if len(self._openers) >= _SUBKEYS_KEPT:
                self._openers = {self._salt: self._sealer}
            opener = self._openers[salt] = _subkey(self._key, salt)
        return opener
