"""``python -m onestop``: the same as the ``onestop`` command."""

from onestop.cli import main

if __name__ == "__main__":
    main()
