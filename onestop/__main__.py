"""``python -m onestop``: the same as the ``onestop`` command."""

from onestop.cli import main

main()
