"""Entry point: ``python -m benchmarks [--quick] [--only NAME] [--json FILE]``."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

from benchmarks.figures import ALL, bulk, durable
from benchmarks.harness import Figure, print_table, write_json
from benchmarks.sync import SYNC
from onestop.log import configure

ALL = {**ALL, **SYNC}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, under a minute")
    parser.add_argument("--only", choices=sorted(ALL), action="append", help="run only these")
    parser.add_argument("--json", default="benchmarks.json", help="where to write the figures")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (median)")
    args = parser.parse_args(argv)
    configure(level="WARNING")
    console = Console(width=150)
    repeats = args.repeats or (1 if args.quick else 3)
    figures: list[Figure] = []
    for name in args.only or list(ALL):
        with console.status(f"measuring {name}..."):
            result = ALL[name](args.quick, repeats)
        figures.extend(result if isinstance(result, list) else [result])
        console.print(f"measured {name}")
    pg = os.environ.get("ONESTOP_PG_URL")
    if pg and (not args.only or {"durable", "bulk"} & set(args.only)):
        with console.status("measuring PostgreSQL..."):
            figures.append(durable(args.quick, repeats, pg))
            figures.append(bulk(args.quick, repeats, pg))
    print_table(figures, console)
    write_json(figures, args.json, args.quick)
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
