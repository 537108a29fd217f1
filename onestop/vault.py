"""The personal-data vault's key: encryption of applicants' data and keyed look-up digests.

Decree 13/2023/NĐ-CP gives an applicant the right to have their data corrected and deleted, so
their name, citizen ID number, phone and address live in one row of the ``personal_data`` table,
apart from the hash-chained events; dossiers and events carry only that row's random reference.
The row's fields are encrypted with AES-256-GCM under a key the database does not hold:
``ONESTOP_VAULT_KEY`` (64 hex digits) or ``ONESTOP_VAULT_KEY_FILE`` (a file holding them),
made with ``onestop vault-keygen --out FILE``. Each ciphertext is bound (as associated data)
to its row's reference and its field, so one cannot be moved to another row or field unseen.

Look-ups never decrypt: a citizen ID number is found by its *blind index*, an HMAC-SHA-256 of
the number under a sub-key of the same secret; an applicant account by another. Two sub-keys
are derived from the secret (HMAC with a fixed label each), so the index digests reveal nothing
about the encryption key.

Example:
    >>> key = VaultKey.from_text("11" * 32)
    >>> sealed = key.seal("pd_1", "phone", "0901234567")
    >>> key.open("pd_1", "phone", sealed)
    '0901234567'
    >>> key.index("id_number", "092085001234") == key.index("id_number", "092085001234")
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from onestop._secrets import KEY_BYTES, hex_key, key_text
from onestop.errors import VaultKeyError

#: Environment variables the key is read from, in order.
KEY_VARIABLE, KEY_FILE_VARIABLE = "ONESTOP_VAULT_KEY", "ONESTOP_VAULT_KEY_FILE"
HOW_TO = (
    f"create one with `onestop vault-keygen --out vault.key` and set {KEY_FILE_VARIABLE}="
    f"vault.key (or {KEY_VARIABLE} to its 64 hex digits)"
)
_BYTES = KEY_BYTES
_NONCE = 12
#: The personal fields of an applicant, all encrypted.
FIELDS = ("name", "id_number", "phone", "address")


@dataclass(frozen=True)
class VaultKey:
    """A 256-bit secret: AES-256-GCM for the vault's fields, HMAC-SHA-256 for its look-ups.

    Attributes:
        secret: The key's bytes (never logged or stored by onestop).
        development: Whether this is the publicly known development key
            (:meth:`development_key`), which protects nothing.
    """

    secret: bytes = field(repr=False)
    development: bool = False

    def __post_init__(self) -> None:
        if len(self.secret) != _BYTES:
            raise VaultKeyError(f"a vault key has {_BYTES} bytes, this one {len(self.secret)}")

    @property
    def key_id(self) -> str:
        """A short public fingerprint of the key, stored beside each vault row."""
        return hashlib.sha256(b"onestop-vault-id" + self.secret).hexdigest()[:16]

    def _subkey(self, label: bytes) -> bytes:
        return hmac.new(self.secret, label, hashlib.sha256).digest()

    def seal(self, ref: str, name: str, plaintext: str) -> str:
        """Encrypt one field of the vault row ``ref`` (a fresh random nonce each time)."""
        nonce = secrets.token_bytes(_NONCE)
        aead = AESGCM(self._subkey(b"onestop-vault-encryption"))
        box = aead.encrypt(nonce, plaintext.encode(), f"{ref}/{name}".encode())
        return base64.b64encode(nonce + box).decode("ascii")

    def open(self, ref: str, name: str, sealed: str) -> str:
        """Decrypt a field sealed by :meth:`seal` for the same row and field.

        Raises:
            VaultKeyError: If the key is not the one it was sealed with, or the ciphertext
                was altered or moved to another row or field.
        """
        raw = base64.b64decode(sealed.encode("ascii"))
        aead = AESGCM(self._subkey(b"onestop-vault-encryption"))
        try:
            return aead.decrypt(raw[:_NONCE], raw[_NONCE:], f"{ref}/{name}".encode()).decode()
        except InvalidTag:
            raise VaultKeyError(
                f"personal_data {ref}.{name}: cannot be decrypted with vault key {self.key_id} "
                "(another key, or the ciphertext was altered)"
            ) from None

    def index(self, kind: str, value: str) -> str:
        """The blind index of ``value`` (an ID number, an account...): HMAC-SHA-256 under the
        look-up sub-key, in hex. Equal values give equal digests; without the key a digest
        cannot be tested against a guess."""
        message = kind.encode() + b"\x00" + value.encode()
        return hmac.new(self._subkey(b"onestop-vault-index"), message, hashlib.sha256).hexdigest()

    @classmethod
    def generate(cls) -> VaultKey:
        """A new random key (from the operating system's CSPRNG)."""
        return cls(secrets.token_bytes(_BYTES))

    @classmethod
    def development_key(cls) -> VaultKey:
        """The development key: public (derived from a fixed text), so it protects nothing.
        For tests, demos and simulations only; it must be asked for explicitly."""
        return cls(hashlib.sha256(b"onestop development vault key").digest(), development=True)

    @classmethod
    def from_text(cls, text: str, where: str = KEY_VARIABLE) -> VaultKey:
        """A key from its 64 hex digits (surrounding whitespace ignored).

        Raises:
            VaultKeyError: If it is not 64 hex digits.
        """
        return cls(hex_key(text, where, "a vault key", HOW_TO, VaultKeyError))

    def to_text(self) -> str:
        """The key as 64 hex digits (what :meth:`from_text` reads)."""
        return self.secret.hex()


def load_vault_key(environ: Mapping[str, str] | None = None) -> VaultKey | None:
    """The key named by the environment, or ``None`` when it names none.

    Args:
        environ: The environment (default: ``os.environ``).

    Raises:
        VaultKeyError: If a variable is set but its key is unreadable or malformed.
    """
    found = key_text(environ, KEY_VARIABLE, KEY_FILE_VARIABLE, VaultKeyError)
    return None if found is None else VaultKey.from_text(*found)
