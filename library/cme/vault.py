"""CNPs encrypted at rest: AES-256-GCM for the value, HMAC-SHA256 for finding it again.

One master key (``MEDROOM_CNP_KEY``, or a random key kept in the data folder, see
``config.settings``) is stretched with HKDF-SHA256 into two keys for two jobs: one encrypts,
one computes the keyed hash the database keeps a unique index on, so "is this CNP already
someone's?" is answered without decrypting anything and without a plain hash that anyone could
reverse by trying the 10^12 possible codes. Each ciphertext is bound to its row (the additional
data names the account), so a ciphertext copied onto another person's row does not decrypt.

The database holds ``nonce || ciphertext || tag`` and a key id (a short fingerprint of the
master key): a database opened with the wrong key says so instead of failing on a tag.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
MIN_MASTER_KEY_BYTES = 32
_HKDF_SALT = b"medroom.cnp.v1"


class VaultError(Exception):
    """A CNP cannot be decrypted with the configured key; the message says what to do."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=purpose).derive(master)


class CnpVault:
    """Encrypts, decrypts and looks up CNPs with keys derived from one master key."""

    def __init__(self, master_key: str | bytes) -> None:
        master = master_key.encode() if isinstance(master_key, str) else master_key
        if len(master) < MIN_MASTER_KEY_BYTES:
            raise VaultError(
                f"the CNP key is {len(master)} bytes; use at least {MIN_MASTER_KEY_BYTES}"
                " random bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                " into MEDROOM_CNP_KEY)"
            )
        self._aead = AESGCM(_derive(master, b"encrypt"))
        self._lookup_key = _derive(master, b"lookup")
        self.key_id = hmac.new(_derive(master, b"key-id"), b"", hashlib.sha256).hexdigest()[:16]

    @staticmethod
    def _bound_to(user_id: int) -> bytes:
        return f"medroom.cnp.v1|user={user_id}".encode()

    def seal(self, cnp: str, *, user_id: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, cnp.encode(), self._bound_to(user_id))

    def open(self, sealed: bytes, *, user_id: int, key_id: str) -> str:
        if key_id != self.key_id:
            raise VaultError(
                f"this CNP was encrypted with key {key_id}, the configured CNP key is"
                f" {self.key_id}: set MEDROOM_CNP_KEY (or restore the data folder's cnp.key)"
                " to the key the CNPs were stored with"
            )
        try:
            plain = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], self._bound_to(user_id)
            )
        except InvalidTag:
            raise VaultError(
                f"the stored CNP of account {user_id} does not decrypt: it was changed in the"
                " database or copied from another account; enter it again"
            ) from None
        return plain.decode()

    def lookup_hash(self, cnp: str) -> str:
        return hmac.new(self._lookup_key, cnp.encode(), hashlib.sha256).hexdigest()
