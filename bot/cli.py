"""Command line: ``python -m bot <command>``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, Iterable, TextIO

from bot import logs
from bot.settings import get_settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _classify(args: argparse.Namespace) -> int:
    from bot.runtime import NotTrainedError, load_router

    try:
        router = load_router(get_settings())
    except NotTrainedError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    stream: TextIO = open(args.file, encoding="utf-8") if args.file else sys.stdin
    loop = asyncio.new_event_loop()
    try:
        for line in stream:
            if line.strip():
                print(json.dumps(loop.run_until_complete(_classify_line(router, line)), ensure_ascii=False),
                      flush=True)
    finally:
        loop.close()
        if args.file:
            stream.close()
    return 0


async def _classify_line(router: Any, line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
        text = item["text"] if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise ValueError("each line needs a string 'text'")
    except (ValueError, KeyError) as exc:
        return {"error": f"bad input line: {exc}"}
    result = await router.parse_text(text, explicit=item.get("lang"))
    intent = result.get("intent") or {}
    return {
        "text": text,
        "language": result["language"],
        "language_source": result["language_source"],
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 4),
        "entities": [
            {"entity": e["entity"], "value": e.get("value"), "start": e.get("start"), "end": e.get("end")}
            for e in result.get("entities") or []
        ],
        "crisis": result["crisis"],
        "crisis_reasons": result["crisis_reasons"],
    }


def _train(args: argparse.Namespace) -> int:
    from bot.training import train

    print("Training stale models:")
    train(get_settings(), force=args.force, languages=args.language or None)
    return 0


def _eval_nlu(args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate_nlu

    report = evaluate_nlu(get_settings(), args.language or None)
    low = {lang: r["intent_macro_f1"] for lang, r in report.items() if r["intent_macro_f1"] < args.min_f1}
    if low:
        print(f"Below intent macro-F1 {args.min_f1}: {low}", file=sys.stderr)
        return 1
    return 0


def _eval_crisis(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.crisis_eval import evaluate, failures, format_table, lexicon_only_router, load_cases

    settings = get_settings()
    if args.lexicon_only:
        router = lexicon_only_router(settings)
    else:
        from bot.runtime import NotTrainedError, load_router

        try:
            router = load_router(settings)
        except NotTrainedError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    report = evaluate(router, load_cases(Path(f) for f in args.files))
    print(format_table(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    problems = failures(report, args.min_recall, args.max_fpr)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _bench(args: argparse.Namespace) -> int:
    from bot.bench import run

    print(json.dumps(run(get_settings(), with_models=not args.lexicon_only), indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.server import serve

    serve(get_settings(), with_actions=not args.no_actions)
    return 0


def _shell(args: argparse.Namespace) -> int:
    from bot.runtime import load_agent

    async def main() -> None:
        agent = await load_agent(get_settings())
        print("Type a message (Ctrl-D to quit).")
        for line in _lines():
            for reply in await agent.handle_text(line, sender_id="shell") or []:
                print("Amani:", reply.get("text", ""))
                for button in reply.get("buttons") or []:
                    print(f"   [{button['title']}] -> {button['payload']}")

    asyncio.run(main())
    return 0


def _content(args: argparse.Namespace) -> int:
    if args.action == "sync":
        return _content_sync(args)
    from bot.content.check import check

    problems = check(get_settings().root)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.warning]
    print(f"content check: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _content_sync(args: argparse.Namespace) -> int:
    from bot.content.sync import sync
    from bot.nlu.embeddings import make_embedder

    settings = get_settings()
    embedder = None if args.no_embeddings else make_embedder(settings.embedding_model)
    report = sync(settings.database_url, settings.root, embedder, progress=sys.stderr.isatty())
    for problem in report.errors:
        print(problem)
    print(report.summary(), file=sys.stderr)
    return 1 if report.errors else 0


def _eval_retrieval(args: argparse.Namespace) -> int:
    from bot.content.evaluation import evaluate_retrieval, print_report

    settings = get_settings()
    report = evaluate_retrieval(settings, args.language)
    print_report(report)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as out:
            json.dump(report, out, ensure_ascii=False, indent=2)
    failed = [lang for lang, r in report.items() if r["top3"] < (args.min_top3_en if lang == "en" else args.min_top3)]
    if failed:
        print(f"retrieval: top-3 below target for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _console(args: argparse.Namespace) -> int:
    import getpass

    from bot.handoff.auth import add_counsellor
    from bot.store.db import migrate, transaction

    settings = get_settings()
    migrate(settings.database_url)
    password = os.environ.get("AMANI_NEW_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    try:
        with transaction(settings.database_url) as session:
            add_counsellor(session, args.username, password, args.role, args.name)
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2
    print(f"console account {args.username} ({args.role}) saved", file=sys.stderr)
    return 0


def _handoff(args: argparse.Namespace) -> int:
    from bot.handoff.dispatcher import Dispatcher
    from bot.store.db import migrate

    settings = get_settings()
    migrate(settings.database_url)
    dispatcher = Dispatcher(settings)
    if args.action == "deliver-once":
        print(json.dumps(asyncio.run(dispatcher.run_once())))
        return 0
    stop = asyncio.Event()
    try:
        asyncio.run(dispatcher.run_forever(stop))
    except KeyboardInterrupt:
        pass
    return 0


def _db(args: argparse.Namespace) -> int:
    from bot.store.db import migrate

    migrate(get_settings().database_url)
    print("database is up to date", file=sys.stderr)
    return 0


def _lines() -> Iterable[str]:
    while True:
        try:
            yield input("You: ")
        except EOFError:
            return


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Amani command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("classify", help="classify JSON lines {'text', 'lang'?} from FILE or stdin")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=_classify)
    p = sub.add_parser("train", help="train the models whose inputs changed")
    p.add_argument("--force", action="store_true")
    p.add_argument("--language", action="append")
    p.set_defaults(func=_train)
    p = sub.add_parser("eval-nlu", help="per-language intent F1 on held-out examples")
    p.add_argument("--language", action="append")
    p.add_argument("--min-f1", type=float, default=0.85)
    p.set_defaults(func=_eval_nlu)
    p = sub.add_parser("eval-crisis", help="crisis recall / false-positive rate per language on JSONL files")
    p.add_argument("files", nargs="+")
    p.add_argument("--min-recall", type=float, default=0.98)
    p.add_argument("--max-fpr", type=float, default=0.05)
    p.add_argument("--lexicon-only", action="store_true", help="only the deterministic lexicons (no models)")
    p.add_argument("--report", help="also write the full report (with misses) as JSON here")
    p.set_defaults(func=_eval_crisis)
    p = sub.add_parser("eval-retrieval", help="content search top-1/top-3 accuracy per language "
                                              "(data/eval/retrieval/<lang>.yml)")
    p.add_argument("--language", action="append")
    p.add_argument("--min-top3", type=float, default=0.8)
    p.add_argument("--min-top3-en", type=float, default=0.9)
    p.add_argument("--report", help="also write the report (with misses) as JSON here")
    p.set_defaults(func=_eval_retrieval)
    p = sub.add_parser("bench", help="latency of the crisis layer and the router (reports/bench.json)")
    p.add_argument("--lexicon-only", action="store_true")
    p.set_defaults(func=_bench)
    p = sub.add_parser("content", help="content/ tools: `check` (schema, translations, safe messaging), `sync` "
                                       "(load content/library into the database)")
    p.add_argument("action", choices=["check", "sync"])
    p.add_argument("--no-embeddings", action="store_true", help="sync without computing search embeddings")
    p.set_defaults(func=_content)
    p = sub.add_parser("console", help="counsellor console accounts: `add-user NAME --role counsellor|supervisor` "
                                       "(password from AMANI_NEW_PASSWORD or a prompt)")
    p.add_argument("action", choices=["add-user"])
    p.add_argument("username")
    p.add_argument("--role", default="counsellor", choices=["counsellor", "supervisor"])
    p.add_argument("--name", help="display name")
    p.set_defaults(func=_console)
    p = sub.add_parser("handoff", help="handoff delivery: `worker` (a separate delivery process; `make run` already "
                                       "delivers) or `deliver-once`")
    p.add_argument("action", choices=["worker", "deliver-once"])
    p.set_defaults(func=_handoff)
    from bot.privacy.cli import add_privacy_parser

    add_privacy_parser(sub)
    p = sub.add_parser("db", help="database tools: `upgrade` (Alembic migrations to the newest revision)")
    p.add_argument("action", choices=["upgrade"])
    p.set_defaults(func=_db)
    p = sub.add_parser("run", help="serve the bot (REST channel) and the action server")
    p.add_argument("--no-actions", action="store_true")
    p.set_defaults(func=_run)
    p = sub.add_parser("shell", help="talk to the trained bot in the terminal")
    p.set_defaults(func=_shell)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logs.configure()
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
