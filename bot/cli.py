"""``patient-voice`` command line: export answers, translate them, migrate the database.

    patient-voice export --format csv|json [--since YYYY-MM-DD] [--until YYYY-MM-DD]
                         [--service KEY] [-o FILE] [--database-url URL]
    patient-voice translate-pending [--limit N] [--timeout SECONDS] [--database-url URL]
    patient-voice migrate [--database-url URL]

Exit codes: 0 ok, 1 the output file could not be written (export) or the translation service
was unavailable and nothing could be translated while answers wait (translate-pending),
2 bad arguments. Only counts are printed; answer text never goes to logs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import TYPE_CHECKING

from bot.export import write_csv, write_json

if TYPE_CHECKING:  # pragma: no cover
    from bot.translation import Translator

TRANSLATE_EPILOG = """\
Translates answers written in another language than English into English with Google
Translate (googletrans), runs the anonymiser again on the English text and stores it beside
the original. Prints "translated N, failed N, still pending N" to standard output.

The run stops at the first sign that the service is unavailable (no network, timeout,
HTTP 429 or another error); those answers stay pending with their original text: run the
command again later (e.g. from cron). Answers whose translation cannot be anonymised, or
whose language the service does not know, stay pending too.

"failed" counts the answers tried and left pending; "still pending" counts every answer
still waiting after the run, including those not tried (over --limit, or after a stop).

exit status:
  0  the run went through the queue (or up to --limit), or the service became unavailable
     after at least one answer was translated, or nothing was pending
  1  the service was unavailable, nothing was translated and answers are still pending
     (a cron job or monitor can alert on this)
  2  bad arguments
"""


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return number


def _positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {value!r}")
    return number


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
    translate = commands.add_parser(
        "translate-pending",
        parents=[common],
        help="translate answers waiting for an English translation",
        description="Translate answers waiting for an English translation.",
        epilog=TRANSLATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    translate.add_argument(
        "--limit",
        type=_positive_int,
        default=100,
        help="most answers to translate in this run, oldest first (default: 100)",
    )
    translate.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=10.0,
        help="seconds to wait for each request to the translation service (default: 10)",
    )
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


async def _run_translations(store, translator: Translator | None, args: argparse.Namespace):
    from bot.translation import GoogleTranslator, translate_pending

    if translator is not None:
        return await translate_pending(store, translator, limit=args.limit)
    async with GoogleTranslator(timeout=args.timeout) as google:
        return await translate_pending(store, google, limit=args.limit)


def _translate_pending(args: argparse.Namespace, translator: Translator | None) -> int:
    from bot.store import Store

    store = Store(args.database_url)
    try:
        report = asyncio.run(_run_translations(store, translator, args))
    finally:
        store.close()
    print(f"translated {report.done}, failed {report.failed}, still pending {report.left}")
    if report.unavailable:
        print(
            f"patient-voice: translation service unavailable ({report.unavailable}); "
            "the answers stay pending: run translate-pending again later",
            file=sys.stderr,
        )
        if report.done == 0 and report.left > 0:
            return 1
    return 0


def main(argv: list[str] | None = None, *, translator: Translator | None = None) -> int:
    """Run the command line; returns the exit code (argparse's own 2 for bad arguments).

    ``translator`` replaces Google Translate for ``translate-pending`` (for tests, or another
    service); the caller then owns and closes it.
    """
    try:
        args = _parse(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    if args.command == "export":
        return _export(args)
    if args.command == "translate-pending":
        return _translate_pending(args, translator)
    return _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
