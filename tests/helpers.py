"""Test helpers: the ones onestop ships to users (``onestop.testing``)."""

from onestop.testing import assert_replays, fingerprint

__all__ = ["assert_replays", "fingerprint"]
