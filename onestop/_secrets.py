"""Secrets read from the environment: 256-bit keys written as 64 hex digits, given directly in
one variable or in a file named by another (the audit key, the vault key)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from onestop.errors import OnestopError

#: Bytes of every key.
KEY_BYTES = 32


def hex_key(text: str, where: str, what: str, how_to: str, error: type[OnestopError]) -> bytes:
    """The bytes of a key written as 64 hex digits (surrounding whitespace ignored).

    Args:
        text: The hex digits.
        where: Where the text came from, for the error message.
        what: The key's name in the message (``an audit key``).
        how_to: How to make one, for the message.
        error: The typed error to raise.

    Raises:
        OnestopError: ``error``, if the text is not 64 hex digits.
    """
    digits = text.strip()
    try:
        secret = bytes.fromhex(digits)
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES or len(digits) != 2 * KEY_BYTES:
        raise error(f"{where}: {what} is {2 * KEY_BYTES} hex digits; {how_to}")
    return secret


def key_text(
    environ: Mapping[str, str] | None,
    variable: str,
    file_variable: str,
    error: type[OnestopError],
) -> tuple[str, str] | None:
    """The text of the key the environment names, and where it came from; ``None`` if none.

    Args:
        environ: The environment (default: ``os.environ``).
        variable: The variable holding the hex digits.
        file_variable: The variable naming a file that holds them.
        error: The typed error to raise.

    Raises:
        OnestopError: ``error``, if the named file cannot be read.
    """
    env = os.environ if environ is None else environ
    if env.get(variable):
        return env[variable], variable
    path = env.get(file_variable)
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="ascii", errors="strict")[:1000]
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{file_variable}={path}: cannot read the key ({exc})") from None
    return text, f"{file_variable}={path}"
