"""``patient-voice`` command line: export answers, translate them, migrate the database.

    patient-voice export --format csv|json|xlsx|html [--since YYYY-MM-DD] [--until YYYY-MM-DD]
                         [--service KEY] [--theme NAME] [--barrier KEY] [--language CODE]
                         [--rating KEY] [--sentiment N] [--search TEXT] [-o FILE]
                         [--database-url URL]
    patient-voice translate-pending [--limit N] [--timeout SECONDS] [--database-url URL]
    patient-voice migrate [--database-url URL]
    patient-voice staff create-user NAME [--role engagement|safeguarding] [--password-stdin]
                                   [--database-url URL]
    patient-voice staff list-users [--database-url URL]
    patient-voice staff serve
    patient-voice themes train [--data FILE.csv] [--if-missing]
                               [--with-corrections|--without-corrections]
                               [--out PATH] [--database-url URL]
    patient-voice themes evaluate --data FILE.csv [--model PATH] [--per-category]
    patient-voice themes tag [--model PATH] [--limit N] [--database-url URL]
    patient-voice themes correct ANSWER_ID --theme NAME [--theme NAME] [--sentiment N]
                                 [--model PATH] [--database-url URL]

Exit codes: 0 ok, 1 the output file could not be written (export) or the translation service
was unavailable and nothing could be translated while answers wait (translate-pending),
2 bad arguments. Only counts are printed; answer text never goes to logs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot import cli_privacy
from bot.export import Tally, write_csv, write_json

if TYPE_CHECKING:  # pragma: no cover
    from bot.staff.queries import Filters
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
    _add_export_parser(commands, common)
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
    _add_themes_parser(commands, common)
    cli_privacy.add_parsers(commands, common)
    _add_staff_parser(commands, common)
    return parser


EXPORT_EPILOG = """\
The filters are the staff app's (bot.staff.queries.Filters), so the command and the web
export the same responses: --since/--until (inclusive days the response was started),
--service, --language, --rating and --barrier choose responses; --theme, --sentiment and
--search choose comments, and a response matches when one of its comments does. Every
answer of a matching response is exported, except the optional "about you" answers, which
never appear in a row export (only counted, small numbers suppressed, in the XLSX summary
sheet and the HTML report).
"""


def _add_export_parser(commands, common: argparse.ArgumentParser) -> None:
    from bot.questions import BARRIERS, FFT_RATINGS

    export = commands.add_parser(
        "export", parents=[common], help="export answers", description="Export answers.",
        epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--format", choices=("csv", "json", "xlsx", "html"), required=True)
    export.add_argument("--since", type=_day, help="first day of responses (inclusive)")
    export.add_argument("--until", type=_day, help="last day of responses (inclusive)")
    export.add_argument("--service", help="only responses about this service key")
    export.add_argument("--theme", metavar="NAME", help="responses with a comment of this theme")
    export.add_argument("--barrier", choices=BARRIERS, metavar="KEY",
                        help="responses that named this barrier: " + ", ".join(BARRIERS))
    export.add_argument("--language", metavar="CODE", help="responses in this language")
    export.add_argument("--rating", choices=FFT_RATINGS, metavar="KEY",
                        help="responses with this FFT answer: " + ", ".join(FFT_RATINGS))
    export.add_argument("--sentiment", type=int, choices=range(1, 6), metavar="N",
                        help="responses with a comment of this sentiment (1 very positive .. "
                        "5 very negative)")
    export.add_argument("--search", metavar="TEXT",
                        help="responses with a comment holding TEXT (original or English)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")


# export flag -> the staff app's filter field
EXPORT_FILTERS = (("since", "since"), ("until", "until"), ("service", "service"),
                  ("theme", "theme"), ("barrier", "barrier"), ("language", "language"),
                  ("rating", "rating"), ("sentiment", "sentiment"), ("search", "q"))


def _filters(args: argparse.Namespace) -> Filters:
    """The staff app's Filters from the export flags, read by ``Filters.parse`` as the web
    form is, so the command and the web export the very same responses."""
    from bot.staff.queries import Filters

    given = {field: getattr(args, flag) for flag, field in EXPORT_FILTERS}
    return Filters.parse({field: value.isoformat() if isinstance(value, date) else str(value)
                          for field, value in given.items() if value is not None})


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    return args


def _export(args: argparse.Namespace) -> int:
    """Write the export as its rows are read; the audit line counts what was written.

    Rows and summary come from the staff app's queries with the same filters, so the XLSX
    "Answers" and "Summary" sheets describe one set of responses, as the web export does.
    """
    from bot.erasure import record
    from bot.staff import queries
    from bot.store import Store

    if args.output is None and args.format == "xlsx":
        print("patient-voice: --format xlsx needs -o FILE", file=sys.stderr)
        return 2
    store = Store(args.database_url)
    filters = _filters(args)
    rows = Tally(queries.iter_export_rows(store, filters))
    summary = None
    try:
        if args.format == "html":
            summary = queries.summarise(store, filters)
            return _export_report(args, summary)
        if args.format == "xlsx":
            return _export_xlsx(args, rows, queries.summarise(store, filters))
        return _export_text(args, rows)
    finally:  # every export is in the audit log: the report by responses, others by answers
        record(store, "export", "staff", summary.responses if summary else rows.count)
        store.close()


def _exported(count: int, responses: int) -> None:
    print(f"exported {count} answers from {responses} responses", file=sys.stderr)


def _cannot_write(path: str, error: OSError) -> int:
    print(f"patient-voice: cannot write {path}: {error.strerror or error}", file=sys.stderr)
    return 1


def _export_text(args: argparse.Namespace, rows: Tally) -> int:
    """CSV or JSON, written to the file (or standard output) a chunk at a time."""
    if args.output is None:
        _write(rows, args.format, sys.stdout, bom=False)
        _exported(rows.count, rows.responses)
        return 0
    try:
        handle = open(args.output, "w", encoding="utf-8", newline="")
    except OSError as error:
        return _cannot_write(args.output, error)
    try:
        with handle:
            _write(rows, args.format, handle, bom=True)
    except OSError as error:  # a full disk: leave no half file that looks whole
        Path(args.output).unlink(missing_ok=True)
        return _cannot_write(args.output, error)
    _exported(rows.count, rows.responses)
    return 0


def _write(rows: Iterable[dict], fmt: str, stream, *, bom: bool) -> int:
    if fmt == "csv":
        return write_csv(rows, stream, bom=bom)
    return write_json(rows, stream)


def _export_xlsx(args: argparse.Namespace, rows: Tally, summary) -> int:
    """The workbook (answers and a summary sheet) straight into the file: openpyxl's
    write-only mode keeps the rows in a temporary file, not in memory."""
    from bot.export import TooManyRows, write_xlsx

    try:
        with open(args.output, "wb") as handle:
            write_xlsx(rows, handle, summary=summary)
    except TooManyRows as error:
        Path(args.output).unlink(missing_ok=True)
        print(f"patient-voice: {error}: export CSV, or a shorter range", file=sys.stderr)
        return 1
    except OSError as error:
        return _cannot_write(args.output, error)
    _exported(rows.count, summary.responses)
    return 0


def _export_report(args: argparse.Namespace, summary) -> int:
    """The one-page HTML report (counts only, so small)."""
    import io

    from bot.export import write_html_report

    text = io.StringIO()
    write_html_report(summary, text)
    data = text.getvalue().encode("utf-8")
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            with open(args.output, "wb") as handle:
                handle.write(data)
        except OSError as error:
            return _cannot_write(args.output, error)
    print(f"exported a report of {summary.responses} responses", file=sys.stderr)
    return 0


# --- staff app accounts and server (bot.staff) -------------------------------------------------


def _add_staff_parser(commands, common: argparse.ArgumentParser) -> None:
    from bot.staff.models import ROLES

    staff = commands.add_parser("staff", help="the staff web app: accounts and server")
    actions = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    create = actions.add_parser("create-user", parents=[common],
                                help="create a staff account (or set a new password)")
    create.add_argument("name", help="user name (no spaces)")
    create.add_argument("--role", choices=ROLES,
                        help="safeguarding: may also see the needs-attention queue of flagged "
                        "messages (default: engagement for a new account; an existing "
                        "account keeps its role)")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    actions.add_parser("list-users", parents=[common],
                       help="list the staff accounts with their roles")
    actions.add_parser("serve", help="run the staff app (STAFF_HOST, STAFF_PORT)")


def _staff(args: argparse.Namespace) -> int:
    if args.staff_command == "serve":
        from bot.staff.app import main as serve

        serve()
        return 0
    if args.staff_command == "list-users":
        return _list_users(args)
    return _create_user(args)


def _list_users(args: argparse.Namespace) -> int:
    """One line per account: name, role, the day it was made."""
    from bot.staff.auth import Auth
    from bot.store import Store

    store = Store(args.database_url)
    try:
        users = Auth(store).users()
    finally:
        store.close()
    for user in users:
        print(f"{user.name}\t{user.role}\t{user.created_on.isoformat()}")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    from bot.staff.auth import AccountError, Auth
    from bot.store import Store

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Same password again: ") != password:
            print("patient-voice: the passwords differ", file=sys.stderr)
            return 2
    store = Store(args.database_url)
    try:
        Auth(store).create_user(args.name, password, role=args.role)
    except AccountError as error:
        print(f"patient-voice: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(f"staff account {args.name.strip().lower()} is ready", file=sys.stderr)
    return 0


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


# --- themes (bot.themes) ---------------------------------------------------------------------

THEMES_EPILOG = """\
QDC themes and a 5-level sentiment (1 very positive .. 5 very negative) for free-text answers,
with a scikit-learn model kept in one file (default: THEMES_MODEL, else
models/themes/themes.joblib). The labelled CSV format is that of
../shared/data/qdc_v6_train.csv: "FFT question", "FFT answer", "Comment sentiment", then one
column per category ("1" where it applies).

  train     train a model on a labelled CSV, plus the staff corrections kept in the store
            (unless --without-corrections), and save it
  evaluate  micro and macro F1 of the themes and macro F1 of the sentiment on a labelled CSV
            the model has not seen (macro F1 over categories with >= 20 examples; compare
            with pxtextmining's published test-set figures: SVC 0.71 / 0.64, ensemble
            0.77 / 0.71, sentiment 0.65)
  tag       theme every free-text answer that has none (or whose text changed), using its
            English text; answers waiting for a translation are themed once it arrives
  correct   set the themes (and sentiment) of one answer, as staff do in the staff app:
            kept for the next train, written to the audit log (id and user, no text);
            only categories the model (or else the store) knows are accepted

Only counts and scores are printed; comment text never is.

exit status: 0 ok, 1 the data or model file could not be read or training failed, or
the answer to correct has no English text, 2 bad arguments (an unknown theme too)
"""


def _add_themes_parser(commands, common: argparse.ArgumentParser) -> None:
    themes = commands.add_parser(
        "themes",
        help="QDC themes and sentiment of free-text answers (train, evaluate, tag)",
        description="QDC themes and sentiment of free-text answers.",
        epilog=THEMES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = themes.add_subparsers(dest="themes_command", required=True, metavar="ACTION")
    model_help = "model file (default: THEMES_MODEL or models/themes/themes.joblib)"
    train = actions.add_parser("train", parents=[common], help="train and save a model")
    train.add_argument("--data", help="labelled CSV in the QDC format (default: QDC_DATA or "
                       "../shared/data/qdc_v6_train.csv)")
    train.add_argument("--if-missing", action="store_true",
                       help="only when there is no model file yet (what `make run` does); "
                       "no labelled data is then not an error")
    corrections = train.add_mutually_exclusive_group()
    corrections.add_argument(
        "--with-corrections",
        dest="corrections",
        action="store_true",
        default=True,
        help="add the staff corrections kept in the store (the default)",
    )
    corrections.add_argument(
        "--without-corrections",
        dest="corrections",
        action="store_false",
        help="train on the CSV alone",
    )
    train.add_argument("--out", help=model_help)
    evaluate = actions.add_parser("evaluate", help="F1 scores of a model on a labelled CSV")
    evaluate.add_argument("--data", required=True, help="labelled CSV the model has not seen")
    evaluate.add_argument("--model", help=model_help)
    evaluate.add_argument("--per-category", action="store_true", help="F1 of each category too")
    _add_correct_parser(actions, common, model_help)
    tag = actions.add_parser("tag", parents=[common], help="theme the answers that have none")
    tag.add_argument("--model", help=model_help)
    tag.add_argument(
        "--limit", type=_positive_int, help="most answers to theme in this run (default: all)"
    )


def _add_correct_parser(actions, common: argparse.ArgumentParser, model_help: str) -> None:
    correct = actions.add_parser(
        "correct",
        parents=[common],
        help="correct the themes (and sentiment) of one answer, as staff do in the staff app",
    )
    correct.add_argument(
        "answer_id", type=_answer_id, help="the answer's number (shown on the staff app's "
        "correction page, /feedback/NUMBER/themes)"
    )
    correct.add_argument(
        "--theme", action="append", required=True, metavar="NAME",
        help="a QDC category the model (or the store) knows; repeat for several",
    )
    correct.add_argument(
        "--sentiment", type=int, choices=range(1, 6), metavar="N",
        help="1 very positive .. 5 very negative (default: correct the themes only)",
    )
    correct.add_argument("--model", help="whose categories are allowed; " + model_help)


def _answer_id(value: str) -> int:
    number = _positive_int(value)
    if number >= 2**62:
        raise argparse.ArgumentTypeError(f"not an answer number: {value!r}")
    return number


def _themes_correct(args: argparse.Namespace) -> int:
    """Store.correct_themes, with the staff app's checks and audit line."""
    from bot.staff import corrections
    from bot.store import Store

    store = Store(args.database_url)
    try:
        current = store.themes_for(args.answer_id)
        allowed = corrections.categories(store, current.themes if current else (), args.model)
        try:
            chosen, sentiment = corrections.parse(args.theme, str(args.sentiment or ""), allowed)
        except corrections.CorrectionError as error:
            known = "; ".join(allowed) or "none yet (train a model first)"
            print(f"patient-voice: {error} Known themes: {known}", file=sys.stderr)
            return 2
        corrections.enable_audit_log()
        saved = corrections.correct(store, args.answer_id, chosen, sentiment, who=_who())
    finally:
        store.close()
    if not saved:
        print(f"patient-voice: answer {args.answer_id} has no English text to correct (no such "
              "free-text answer, or it waits for its translation)", file=sys.stderr)
        return 1
    print(f"corrected the themes of answer {args.answer_id}; the next `patient-voice themes "
          "train` learns from it")
    return 0


def _who() -> str:
    """Who corrected, for the audit line: the operating system's user name."""
    import getpass

    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def _themes(args: argparse.Namespace) -> int:
    from bot import themes

    try:
        if args.themes_command == "correct":
            return _themes_correct(args)
        if args.themes_command == "train":
            return _themes_train(args, themes)
        model = themes.load(args.model)
        if args.themes_command == "evaluate":
            return _themes_evaluate(args, themes, model)
        return _themes_tag(args, themes, model)
    except FileNotFoundError as error:
        print(f"patient-voice: {error}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:  # unreadable file, wrong format, nothing to learn
        print(f"patient-voice: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def _read_labelled(path: str, themes) -> list[dict]:
    import csv

    try:
        return themes.read_csv(path)
    except (UnicodeDecodeError, csv.Error) as error:  # their messages hold no cell text
        raise ValueError(f"{path} is not a UTF-8 CSV file ({type(error).__name__})") from None


def _themes_train(args: argparse.Namespace, themes) -> int:
    from bot.store import Store

    target = Path(args.out) if args.out else themes.model_path()
    args.data = args.data or str(themes.data_path())
    if args.if_missing and target.exists():
        print(f"themes model already at {target}; nothing to do")
        return 0
    if args.if_missing and not Path(args.data).is_file():
        print(f"no themes model and no labelled data at {args.data}: answers stay unthemed "
              "until `patient-voice themes train --data FILE.csv` makes one")
        return 0
    rows = _read_labelled(args.data, themes)
    corrections: list[dict] = []
    if args.corrections:
        store = Store(args.database_url)
        try:
            corrections = store.corrections()
        finally:
            store.close()
    model = themes.train(rows + corrections)
    path = themes.save(model, args.out)
    from_file = len(themes.examples(rows)[0])
    print(
        f"trained on {from_file} comments from {args.data} and {len(corrections)} staff "
        f"corrections{'' if args.corrections else ' (--without-corrections)'}; "
        f"{len(model.labels)} of {len(model.categories)} categories have enough examples "
        f"to be predicted; model {model.version} saved to {path}"
    )
    return 0


def _score_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _themes_evaluate(args: argparse.Namespace, themes, model) -> int:
    scores = themes.evaluate(model, _read_labelled(args.data, themes))
    print(f"comments            {scores.comments}")
    print(f"themes micro F1     {_score_text(scores.micro_f1)}")
    print(
        f"themes macro F1     {_score_text(scores.macro_f1)}  (over {scores.macro_categories} "
        f"categories with >= {themes.MACRO_MIN_SUPPORT} examples)"
    )
    print(f"sentiment macro F1  {_score_text(scores.sentiment_macro_f1)}")
    if args.per_category:
        for name, result in sorted(scores.per_category.items(), key=lambda i: -i[1].support):
            print(f"  {result.support:5d}  F1 {result.f1:.3f}  {name}")
    return 0


def _themes_tag(args: argparse.Namespace, themes, model) -> int:
    from bot.store import Store

    store = Store(args.database_url)
    try:
        report = themes.tag_answers(store, model, args.limit)
        waiting = store.count_pending()
    finally:
        store.close()
    print(
        f"themed {report.themed} answers with model {model.version}"
        + (f", {report.changed} changed or withdrawn meanwhile" if report.changed else "")
        + f"; {waiting} answers wait for an English translation"
    )
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
    if args.command == "themes":
        return _themes(args)
    if args.command == "staff":
        return _staff(args)
    if args.command in ("withdraw", "purge", "contacts"):
        return cli_privacy.run(args)
    return _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
