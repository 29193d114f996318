"""AES-256-GCM field encryption with key ids, for owners' personal data at rest."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from geo.errors import InvalidInput

_VERSION = "v1"


class FieldCipher:
    """Encrypts with the active key, decrypts with any known key (rotation by key id).

    Ciphertext format: ``v1:<kid>:<base64(nonce || ciphertext+tag)>``. The key id and version are
    bound as associated data, so a ciphertext can't be replayed under another key id.
    """

    def __init__(self, keys: dict[str, bytes], active_kid: str) -> None:
        if active_kid not in keys:
            raise ValueError(f"active key id {active_kid!r} is not among the keys")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
            if ":" in kid:
                raise ValueError("a key id can't contain ':'")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.active_kid = active_kid

    @classmethod
    def from_spec(cls, spec: str) -> FieldCipher:
        """Build from ``kid:base64key[,kid:base64key…]``; the first key is the active one."""
        keys: dict[str, bytes] = {}
        first: str | None = None
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            if not sep:
                raise ValueError("each key must be 'kid:base64key'")
            keys[kid] = base64.b64decode(b64)
            first = first or kid
        if first is None:
            raise ValueError("no encryption key given")
        return cls(keys, first)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a text with the active key."""
        nonce = os.urandom(12)
        aad = f"{_VERSION}:{self.active_kid}".encode()
        sealed = self._keys[self.active_kid].encrypt(nonce, plaintext.encode(), aad)
        return f"{_VERSION}:{self.active_kid}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        """Decrypt a value written by :meth:`encrypt` with any known key."""
        try:
            version, kid, b64 = token.split(":", 2)
        except ValueError as exc:
            raise InvalidInput("malformed ciphertext") from exc
        if version != _VERSION or kid not in self._keys:
            raise InvalidInput(f"unknown key id {kid!r}")
        raw = base64.b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], f"{version}:{kid}".encode()).decode()

    def encrypt_json(self, value: Any) -> str:
        """Encrypt a JSON-serialisable value."""
        return self.encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: str) -> Any:
        """Decrypt a value written by :meth:`encrypt_json`."""
        return json.loads(self.decrypt(token))

    def needs_rotation(self, token: str) -> bool:
        """True when the value was encrypted with a key other than the active one."""
        return token.split(":", 2)[1] != self.active_kid
