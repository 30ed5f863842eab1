"""``patient-voice`` command line: export answers and migrate the database.

    patient-voice export --format csv|json [--since YYYY-MM-DD] [--until YYYY-MM-DD]
                         [--service KEY] [-o FILE] [--database-url URL]
    patient-voice migrate [--database-url URL]

Exit codes: 0 ok, 1 the output file could not be written, 2 bad arguments.
Only counts are printed (to stderr); answer text never goes to logs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bot.export import write_csv, write_json


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="database URL (default: DATABASE_URL or var/)")
    parser = argparse.ArgumentParser(prog="patient-voice", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = commands.add_parser("export", parents=[common], help="export answers")
    export.add_argument("--format", choices=("csv", "json"), required=True)
    export.add_argument("--since", type=_day, help="first day of responses (inclusive)")
    export.add_argument("--until", type=_day, help="last day of responses (inclusive)")
    export.add_argument("--service", help="only answers about this service key")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    commands.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    return args


def _export(args: argparse.Namespace) -> int:
    from bot.store import Store

    store = Store(args.database_url)
    try:
        rows = store.export_rows(since=args.since, until=args.until, service=args.service)
    finally:
        store.close()
    if args.output is None:
        count = _write(rows, args.format, sys.stdout, bom=False)
    else:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as handle:
                count = _write(rows, args.format, handle, bom=True)
        except OSError as error:
            print(f"patient-voice: cannot write {args.output}: {error.strerror}", file=sys.stderr)
            return 1
    responses = len({row["response_id"] for row in rows})
    print(f"exported {count} answers from {responses} responses", file=sys.stderr)
    return 0


def _write(rows: list[dict], fmt: str, stream, *, bom: bool) -> int:
    if fmt == "csv":
        return write_csv(rows, stream, bom=bom)
    return write_json(rows, stream)


def _migrate(args: argparse.Namespace) -> int:
    from bot.store import migrate

    migrate(args.database_url)
    print("database schema is up to date", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (argparse's own 2 for bad arguments)."""
    try:
        args = _parse(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    return _export(args) if args.command == "export" else _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
