"""``python -m bot privacy purge|report|erase``: retention and data-subject requests from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_privacy_parser(sub: Any) -> None:
    """The ``privacy`` subcommand of ``python -m bot``."""
    p = sub.add_parser("privacy", help="privacy tools: `purge` (delete what is older than the retention period), "
                                       "`report --user ID` (rows stored for one person), `erase --user ID --yes`")
    p.add_argument("action", choices=["purge", "report", "erase"])
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user", help="platform id: telegram:<chat id>, whatsapp:<number>, webchat:<session>, "
                                    "rest:<sender> (a bare id is a REST sender)")
    who.add_argument("--sender", help="the Rasa conversation id itself (as shown in the console)")
    p.add_argument("--days", type=int, help="purge: retention period in days (default AMANI_RETENTION_DAYS)")
    p.add_argument("--yes", action="store_true", help="erase: do it (nothing is erased without it)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out one privacy command; the counts go to stdout."""
    from bot.privacy.erase import Person, erase, report, sender_for
    from bot.privacy.retention import purge
    from bot.settings import get_settings

    settings = get_settings()
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        print(f"no database at {url}: nothing is stored", file=sys.stderr)
        return 0
    if args.action == "purge":
        days = args.days if args.days is not None else settings.retention_days
        if days < 1:
            print("--days must be at least 1", file=sys.stderr)
            return 2
        return _print(purge(url, days), args.json, f"purged data older than {days} days")
    if not (args.user or args.sender):
        print(f"privacy {args.action} needs --user or --sender", file=sys.stderr)
        return 2
    person = Person.of(args.sender or sender_for(args.user, settings.pseudonym_key), settings.pseudonym_key)
    if args.action == "report":
        return _print(report(url, person), args.json, f"stored for pseudonymous user {person.user_id}")
    if not args.yes:
        print("erase deletes this person's data for good: add --yes", file=sys.stderr)
        return 2
    return _print(erase(url, person), args.json, f"erased pseudonymous user {person.user_id}")


def _print(counts: dict[str, int], as_json: bool, title: str) -> int:
    if as_json:
        print(json.dumps(counts, sort_keys=True))
        return 0
    print(title)
    for table, count in counts.items():
        print(f"  {table:<18} {count}")
    return 0
