"""`patient-voice withdraw`, `purge` and `contacts`: erasure, retention, co-production contacts.

Separate from bot/cli.py so each command group stays short. Only counts are printed,
except `contacts list`, which shows contact details to the engagement staff who hold
CONTACT_KEY (and nobody else can run it usefully).
"""

from __future__ import annotations

import argparse
import sys

from bot.settings import PROJECT_ROOT, trust_settings


def add_parsers(commands, common: argparse.ArgumentParser) -> None:
    withdraw = commands.add_parser("withdraw", parents=[common],
                                   help="delete a response by its receipt code (staff, on request)")
    withdraw.add_argument("receipt", help="the patient's receipt code, e.g. PV-ABC234")
    purge = commands.add_parser("purge", parents=[common],
                                help="delete what is older than the trust's retention settings "
                                "(answers, contacts, audio, the safeguarding review queue)")
    purge.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    contacts = commands.add_parser("contacts", parents=[common],
                                   help="co-production contact details (needs CONTACT_KEY)")
    actions = contacts.add_subparsers(dest="contacts_command", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="show contact requests (decrypted)")
    actions.add_parser("new-key", help="print a new key for CONTACT_KEY")
    delete = actions.add_parser("delete", parents=[common], help="delete one contact request")
    delete.add_argument("id", type=int)


def run(args: argparse.Namespace) -> int:
    from bot.store import Store

    if args.command == "contacts" and args.contacts_command == "new-key":
        from bot.contacts import new_key

        print(new_key())
        return 0
    store = Store(args.database_url)
    try:
        return {"withdraw": _withdraw, "purge": _purge, "contacts": _contacts}[args.command](
            store, args)
    finally:
        store.close()


def _withdraw(store, args: argparse.Namespace) -> int:
    from bot.erasure import withdraw

    if withdraw(store, args.receipt, actor="staff"):
        print("withdrawn: every answer of that response is deleted")
        return 0
    print("no response has that receipt code", file=sys.stderr)
    return 1


def _purge(store, args: argparse.Namespace) -> int:
    """Answers, contact requests, cached audio and the safeguarding review queue, each by its
    own retention setting; each writes its own audit line (counts only)."""
    from bot.erasure import purge
    from bot.safety.review import purge_reviews

    settings = trust_settings()
    report = purge(store, answers_days=settings.retention_days,
                   contact_days=settings.contact_days,
                   audio_dir=PROJECT_ROOT / "var" / "audio", dry_run=args.dry_run)
    reviews = purge_reviews(store, older_than_days=settings.safeguarding.review_days,
                            dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {report.responses} responses, {report.contacts} contact requests, "
          f"{report.audio_files} audio files, {reviews} messages kept for safeguarding review")
    return 0


def _contacts(store, args: argparse.Namespace) -> int:
    from bot.contacts import ContactKeyMissing, delete_contact, list_contacts
    from bot.erasure import record

    if args.contacts_command == "delete":
        if not delete_contact(store, args.id):
            print("no such contact request", file=sys.stderr)
            return 1
        record(store, "contact_deleted", "staff", 1)
        return 0
    try:
        requests = list_contacts(store)
    except ContactKeyMissing as error:
        print(f"patient-voice: {error}", file=sys.stderr)
        return 1
    for request in requests:
        print(f"{request.id}\t{request.created_on}\tdelete by {request.expires_on}\t"
              f"{request.language}\t{request.details}")
    return 0
