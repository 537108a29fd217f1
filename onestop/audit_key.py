"""The audit key: a secret the database does not hold, for keyed hashes (HMAC-SHA-256).

With it, someone who can write to the database (and read onestop's code) still cannot forge a
daily anchor or an external anchor line: they would need the key. It comes from the environment:
``ONESTOP_AUDIT_KEY`` (64 hex digits) or ``ONESTOP_AUDIT_KEY_FILE`` (a file holding them), made
with ``onestop keygen --out FILE``. Keep the file off the database server's backups.

Example:
    >>> key = AuditKey.from_text("00" * 32)
    >>> key.key_id
    '66687aadf862bd77'
    >>> key.mac(b"day") == AuditKey.from_text("00" * 32).mac(b"day")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from onestop._secrets import KEY_BYTES, hex_key, key_text
from onestop.errors import AuditKeyError

#: Environment variables the key is read from, in order.
KEY_VARIABLE, KEY_FILE_VARIABLE = "ONESTOP_AUDIT_KEY", "ONESTOP_AUDIT_KEY_FILE"
HOW_TO = (
    f"create one with `onestop keygen --out audit.key` and set {KEY_FILE_VARIABLE}=audit.key "
    f"(or {KEY_VARIABLE} to its 64 hex digits)"
)
_BYTES = KEY_BYTES


@dataclass(frozen=True)
class AuditKey:
    """A 256-bit secret for HMAC-SHA-256.

    Attributes:
        secret: The key's bytes (never logged or stored by onestop).
        key_id: A short public fingerprint naming the key in anchors, so a verifier knows which
            key an anchor was made with.
    """

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != _BYTES:
            raise AuditKeyError(f"an audit key has {_BYTES} bytes, this one {len(self.secret)}")

    @property
    def key_id(self) -> str:
        """The first 16 hex digits of SHA-256 of the secret."""
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        """HMAC-SHA-256 of ``message`` under the key, in hex."""
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    @classmethod
    def generate(cls) -> AuditKey:
        """A new random key (from the operating system's CSPRNG)."""
        return cls(secrets.token_bytes(_BYTES))

    @classmethod
    def from_text(cls, text: str, where: str = KEY_VARIABLE) -> AuditKey:
        """A key from its 64 hex digits (surrounding whitespace ignored).

        Args:
            text: The hex digits.
            where: Where the text came from, for the error message.

        Raises:
            AuditKeyError: If it is not 64 hex digits.
        """
        return cls(hex_key(text, where, "an audit key", HOW_TO, AuditKeyError))

    def to_text(self) -> str:
        """The key as 64 hex digits (what :meth:`from_text` reads)."""
        return self.secret.hex()


def load_audit_key(environ: Mapping[str, str] | None = None) -> AuditKey | None:
    """The key named by the environment, or ``None`` when it names none.

    Args:
        environ: The environment (default: ``os.environ``).

    Raises:
        AuditKeyError: If a variable is set but its key is unreadable or malformed.
    """
    found = key_text(environ, KEY_VARIABLE, KEY_FILE_VARIABLE, AuditKeyError)
    return None if found is None else AuditKey.from_text(*found)


def require_audit_key(environ: Mapping[str, str] | None = None) -> AuditKey:
    """:func:`load_audit_key`, refusing to go on without one.

    Raises:
        AuditKeyError: If no key is set (saying how to create one), or it is malformed.
    """
    key = load_audit_key(environ)
    if key is None:
        raise AuditKeyError(f"no audit key: {HOW_TO}")
    return key


def audit_key_for_writing(
    key: AuditKey | None = None, *, dev: bool = False, environ: Mapping[str, str] | None = None
) -> AuditKey | None:
    """The key that chains new events: ``key``, else the environment's; ``None`` (a plain,
    unkeyed SHA-256 chain) only in development mode.

    Args:
        key: An explicit key (wins over the environment).
        dev: Development mode: without a key, write an unkeyed chain, which anyone who can write
            to the database can recompute (``onestop verify`` says how many such events exist).
        environ: The environment (default: ``os.environ``).

    Raises:
        AuditKeyError: If there is no key outside development mode, or the environment's is
            malformed.
    """
    if key is not None:
        return key
    found = load_audit_key(environ)
    if found is None and not dev:
        raise AuditKeyError(
            f"no audit key: outside development mode every event is chained with one; {HOW_TO} "
            "(or open the engine with dev=True, `--dev` on the command line, for a throw-away "
            "database)"
        )
    return found
