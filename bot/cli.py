"""The ``claimledger`` command line: ask, import, export, backup, restore, migrate, embed, run, sync. The same core
the bot uses."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from bot.config import Settings, is_url
from bot.errors import ImportFileError, InvalidInputError, LedgerError, location
from bot.formats import export_text, import_file
from bot.matching import INLINE_EMBED, DenseIndex, Matcher, default_embedder, index_dir_for
from bot.progress import ProgressBar
from bot.rendering.text import answer_json, render_answer_text
from bot.seed import seed_if_empty
from bot.store import DEFAULT_SCOPE, Ledger, backup, migrate_ledger, open_store, restore

log = logging.getLogger(__name__)

CLI_ACTOR = "cli"


def _location(text: str) -> str | Path:
    return text if is_url(text) else Path(text)


def _migrate_location(text: str) -> str | Path:
    """A ledger file (also as ``sqlite:///path``) or a postgresql:// URL."""
    if is_url(text):
        return text
    if not text.strip():
        raise argparse.ArgumentTypeError("give a ledger file or a postgresql:// URL")
    return Path(text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text)


def location_of(args: argparse.Namespace, settings: Settings) -> str | Path:
    """Where the ledger is: --db, else CLAIMLEDGER_DB (a path or a postgresql:// URL), else the default file."""
    return args.db or settings.db_url or settings.db_path


def _file_only(location: str | Path, what: str) -> Path:
    if isinstance(location, str):
        raise LedgerError(f"{what} works on a SQLite ledger file; for PostgreSQL use pg_dump, or `claimledger export`.")
    return location


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claimledger",
        description="Claim Ledger: who said what about a contested event, with evidence and sources.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default from CLAIMLEDGER_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--db",
            type=_location,
            help="ledger file, or a postgresql:// URL (default: $CLAIMLEDGER_DB, else ~/.local/share/...)",
        )
        p.add_argument("--scope", default=DEFAULT_SCOPE, help=argparse.SUPPRESS)
        return p

    ask = with_db(sub.add_parser("ask", help="answer a question from the ledger"))
    ask.add_argument("question", nargs="?", help="the question, in quotes")
    ask.add_argument("--batch", type=Path, metavar="FILE", help="questions from a file: one per line, or JSONL")
    ask.add_argument("--top", type=int, default=5, help="at most this many claims (default 5)")
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")
    ask.add_argument("--threshold", type=float, default=None, help="minimum match score (default: the setting)")

    imp = with_db(sub.add_parser("import", help="import a native JSON, CSV, JSONL or ClaimReview JSON-LD file"))
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--dry-run", action="store_true", help="list the new, updated and invalid records (with lines); change nothing"
    )

    exp = with_db(sub.add_parser("export", help="export the ledger (native JSON by default)"))
    exp.add_argument("file", type=Path, nargs="?", help="output file (default: standard output)")
    exp.add_argument(
        "--format", choices=["native", "csv", "jsonl", "claimreview"], default=None, help="default: from the file name"
    )
    exp.add_argument("--publisher", default="Claim Ledger", help="ClaimReview author (your server or organisation)")
    exp.add_argument("--publisher-url", metavar="URL", help="ClaimReview author's web address")
    exp.add_argument(
        "--claim-url", metavar="TEMPLATE", help="ClaimReview url of each claim, e.g. https://example.org/claims/{ref}"
    )
    exp.add_argument("--incident", help="only this incident (slug or title)")

    bak = with_db(sub.add_parser("backup", help="copy the ledger safely, even while the bot runs"))
    bak.add_argument("path", type=Path, help="where to write the backup")

    res = with_db(sub.add_parser("restore", help="replace the ledger with a backup (stop the bot first)"))
    res.add_argument("path", type=Path, help="the backup file")
    res.add_argument("--force", action="store_true", help="overwrite an existing ledger")

    mig = sub.add_parser(
        "migrate",
        help="copy a whole ledger, with its history, between SQLite and PostgreSQL",
        description="Copy every server's claims, speakers, incidents, sources, history, settings, pinned summaries"
        " and vectors from one ledger to another (SQLite file or postgresql:// URL, either direction), in one"
        " transaction, then check the counts on both sides. Stop the bot first.",
    )
    mig.add_argument("--from", dest="source", type=_migrate_location, required=True, metavar="PATH_OR_URL")
    mig.add_argument("--to", dest="target", type=_migrate_location, required=True, metavar="PATH_OR_URL")
    mig.add_argument(
        "--force", action="store_true", help="replace everything a target that is not empty holds (default: refuse)"
    )

    with_db(
        sub.add_parser("embed", help="make the semantic search vectors that are missing (e.g. after a model change)")
    )

    run = with_db(sub.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)"))
    run.set_defaults(sync=False)
    run.add_argument(
        "--shard-count",
        metavar="N",
        help="run sharded: N shards in all, across every process (default: $CLAIMLEDGER_SHARD_COUNT; none: unsharded)",
    )
    run.add_argument(
        "--shard-ids",
        metavar="IDS",
        help="the shards this process runs, e.g. 0,1 or 0-3 (default: $CLAIMLEDGER_SHARD_IDS, else all N)",
    )

    sync = with_db(
        sub.add_parser(
            "sync",
            help="register the slash commands with Discord (--clear removes them)",
            description="Register the commands in one server (--guild ID: instant, for testing) or globally (every"
            " server; Discord may take up to an hour to show changes). Do one or the other: a server with both shows"
            " every command twice. --clear removes the bot's commands from where sync would register them.",
        )
    )
    sync.add_argument(
        "--guild",
        metavar="ID",
        help="this server only (instant); default: $CLAIMLEDGER_DEV_GUILD, else global (every server)",
    )
    sync.add_argument(
        "--clear", action="store_true", help="remove the bot's commands from that server, or the global ones"
    )
    return parser


def check_ledger_path(path: Path, settings: Settings) -> None:
    """Refuse, in one sentence, a ledger file path that is a folder or whose folder does not exist (the default
    path's folder is created)."""
    if path.is_dir():
        raise LedgerError(
            f"{path} is a folder; give --db (or CLAIMLEDGER_DB) the path of a ledger file,"
            f" such as {path / 'ledger.db'}."
        )
    if path != settings.db_path and not path.parent.is_dir():
        raise LedgerError(f"The folder {path.parent} does not exist; create it first, or choose another --db path.")


def ledger_file(args: argparse.Namespace, settings: Settings, what: str) -> Path:
    """The SQLite ledger file that ``backup`` or ``restore`` works on, checked like ``open_ledger`` checks it."""
    path = _file_only(location_of(args, settings), what)
    check_ledger_path(path, settings)
    return path


def open_ledger(path: str | Path, settings: Settings, *, seed: bool) -> Ledger:
    """Open (creating if needed) the ledger; a new one is seeded with the bundled data unless ``seed`` is False."""
    if isinstance(path, str):  # PostgreSQL: the same API as the SQLite Ledger (bot.store.base.Store)
        try:
            store = cast(Ledger, open_store(path))
        except Exception as err:  # the driver's errors name the server and the reason
            raise LedgerError(f"Cannot open the PostgreSQL ledger: {err}".rstrip(".") + ".") from None
        if seed and store.is_empty(DEFAULT_SCOPE) and not store.get_setting(DEFAULT_SCOPE, "seeded"):
            seed_if_empty(store, DEFAULT_SCOPE, settings.seed_dir)
            store.set_marker(DEFAULT_SCOPE, "seeded", "1")
        return store
    check_ledger_path(path, settings)
    is_new = not path.exists()
    try:
        ledger = Ledger.open(path)
    except sqlite3.Error as err:
        if is_new:
            path.unlink(missing_ok=True)
        raise LedgerError(f"Cannot open the ledger {path}: {err}.") from None
    if is_new and seed:
        seed_if_empty(ledger, DEFAULT_SCOPE, settings.seed_dir)
    return ledger


def _read_batch(path: Path) -> list[tuple[Any, str]]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ImportFileError(f"Cannot read {path}: {err}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ImportFileError("Broken JSONL question file.", [(number, err.msg)]) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
                raise ImportFileError("Broken JSONL question file.", [(number, 'needs a "question" string')])
            questions.append((obj.get("id", number), obj["question"]))
        else:
            questions.append((number, line))
    return questions


def cmd_ask(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if bool(args.question) == bool(args.batch):
        print("claimledger ask: give either a QUESTION or --batch FILE.", file=sys.stderr)
        return 2
    if not 1 <= args.top <= 50:
        print("claimledger ask: --top must be between 1 and 50.", file=sys.stderr)
        return 2
    location = location_of(args, settings)
    with open_ledger(location, settings, seed=True) as ledger:
        threshold = args.threshold if args.threshold is not None else settings.match_threshold
        dense = dense_index(settings, location)
        if dense is not None:
            embed_missing(ledger, dense, args.scope)
        matcher = Matcher(ledger, threshold=threshold, dense=dense)
        if args.batch:
            batch = _read_batch(args.batch)
            if dense is not None:
                for start in range(0, len(batch), 64):  # questions are embedded in batches, once each
                    dense.encode([question for _, question in batch[start : start + 64]])
            for qid, question in batch:
                try:
                    answer = matcher.ask(args.scope, question, top=args.top)
                    record = {"id": qid, **answer_json(answer)}
                except LedgerError as err:
                    record = {"id": qid, "question": question, "error": str(err), "matches": []}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return 0
        answer = matcher.ask(args.scope, args.question, top=args.top)
        if args.json:
            out.write(json.dumps(answer_json(answer), ensure_ascii=False, indent=2) + "\n")
        else:
            out.write(render_answer_text(answer))
    return 0


def dense_index(settings: Settings, location: str | Path | None = None) -> DenseIndex | None:
    """Semantic search for the ledger at ``location`` (its approximate indexes are saved beside it), or None."""
    embedder = default_embedder(settings.semantic)
    if embedder is None:
        return None
    return DenseIndex(embedder, index_dir=index_dir_for(location) if location is not None else None)


def embed_missing(ledger: Ledger, dense: DenseIndex, scope: str | None) -> int:
    """Embed the claims that have no vector yet (after an import, or once after a model change), with a bar."""
    missing = ledger.vectors.count_missing(scope, dense.model_id)
    if missing <= INLINE_EMBED:
        return 0
    bar = ProgressBar(f"Embedding {missing} claims for semantic matching", min_total=INLINE_EMBED)
    if scope is None:
        return dense.sync_all(ledger, progress=bar)
    return dense.sync(ledger, scope, progress=bar)


def cmd_embed(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    location = location_of(args, settings)
    dense = dense_index(settings, location)
    if dense is None:
        print("claimledger embed: semantic matching is off (CLAIMLEDGER_SEMANTIC=0) or not installed.", file=sys.stderr)
        return 2
    with open_ledger(location, settings, seed=True) as ledger:
        done = dense.sync_all(ledger, progress=ProgressBar("Embedding claims", min_total=INLINE_EMBED))
    out.write(f"Embedded {done} claims with {dense.model_id}.\n")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    path = location_of(args, settings)
    # a dry run against a ledger that does not exist yet compares with an empty one, and creates no file
    missing = isinstance(path, Path) and not path.exists()
    opened = Ledger.memory() if args.dry_run and missing else open_ledger(path, settings, seed=False)
    with opened as ledger:
        report = import_file(
            ledger,
            args.scope,
            args.file,
            actor=CLI_ACTOR,
            dry_run=args.dry_run,
            progress=ProgressBar(f"Importing {args.file.name}"),
        )
        out.write(report.summary() + "\n")
        if not report.dry_run and not report.problems and (dense := dense_index(settings, path)) is not None:
            embed_missing(ledger, dense, args.scope)
    if report.dry_run:
        for where, action, label in report.changes:
            if action != "unchanged":
                out.write(f"  {action}, {location(where)}: {label}\n")
    for where, message in report.unmapped:
        out.write(f"  not mapped, {location(where)}: {message}\n")
    for where, message in report.problems:
        out.write(f"  invalid, {location(where)}: {message}\n")
    return 1 if report.problems else 0


def cmd_export(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    fmt = args.format
    if fmt is None:
        suffix = args.file.suffix.lower() if args.file else ""
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonld": "claimreview"}.get(suffix, "native")
    if args.file and args.file.is_dir():
        raise LedgerError(
            f"Cannot write {args.file}: it is a folder; give a file name, such as {args.file / 'ledger.json'}."
        )
    if args.file and not args.file.parent.is_dir():
        raise LedgerError(
            f"Cannot write {args.file}: the folder {args.file.parent} does not exist;"
            " create it first, or choose another path."
        )
    with open_ledger(location_of(args, settings), settings, seed=True) as ledger:
        text = export_text(
            ledger,
            args.scope,
            fmt,
            incident=args.incident,
            publisher=args.publisher,
            publisher_url=args.publisher_url,
            claim_url=args.claim_url,
        )
    if args.file:
        try:
            args.file.write_text(text, encoding="utf-8")
        except OSError as err:
            raise LedgerError(f"Cannot write {args.file}: {err.strerror or err}.") from None
        print(f"Wrote {args.file} ({fmt}).", file=sys.stderr)
    else:
        out.write(text)
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    info = backup(ledger_file(args, settings, "backup"), args.path)
    out.write(f"Backed up {info.describe()} to {info.path} (integrity check: ok).\n")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    target = ledger_file(args, settings, "restore")
    replaced = target.exists()
    info = restore(args.path, target, force=args.force)
    out.write(
        f"Restored {info.describe()} from {args.path} into {info.path}"
        + (", replacing the ledger that was there.\n" if replaced else ".\n")
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    bar = ProgressBar("Migrating rows", min_total=1)
    report = migrate_ledger(args.source, args.target, force=args.force, progress=bar)
    out.write(f"Migrated {report.source} to {report.target}: {report.describe()}.\n")
    if sum(report.replaced.values()):
        out.write(f"Replaced what the target held: {sum(report.replaced.values())} rows.\n")
    out.write("Checked on both sides, per server:\n")
    for line in report.table():
        out.write(f"  {line}\n")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO, *, sync_guild: int | None = None) -> int:
    if getattr(args, "shard_count", None) is not None or getattr(args, "shard_ids", None) is not None:
        settings = settings.with_shards(args.shard_count, args.shard_ids)  # the flags replace both settings
    if not settings.token:
        print(
            "claimledger: DISCORD_TOKEN is not set. Put it in the environment or in a .env file"
            " (see README, 'Running the bot'). To ask from the terminal, use: claimledger ask \"...\"",
            file=sys.stderr,
        )
        return 2
    from bot.discord.runner import run_bot  # imports discord.py only when the bot is wanted

    return run_bot(
        settings, db_path=location_of(args, settings), sync_only=args.command == "sync", sync_guild=sync_guild
    )


MAX_SNOWFLAKE = 2**63 - 1


def guild_id_of(text: str | None) -> int | None:
    """The server ID given to ``--guild`` (a Discord snowflake), or None; a sentence on anything else."""
    if text is None:
        return None
    raw = text.strip()
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_SNOWFLAKE:
        raise InvalidInputError(
            f"--guild takes a server ID, a number such as 1234567890123456789, not {text!r}; in Discord, turn on"
            " Developer Mode, then right-click the server → Copy Server ID."
        )
    return int(raw)


def cmd_sync(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """``claimledger sync [--guild ID] [--clear]``: register the commands, or remove them (a bulk overwrite with an
    empty list), in one server or globally."""
    guild_id = guild_id_of(args.guild)
    if not args.clear:
        return cmd_run(args, settings, out, sync_guild=guild_id)
    if not settings.token:
        print(
            "claimledger sync: DISCORD_TOKEN is not set; put the bot's token in the environment or in a .env file"
            " (see README, 'Running the bot').",
            file=sys.stderr,
        )
        return 2
    from bot.discord.client import clear_commands, command_label  # imports discord.py only when needed

    target = guild_id or settings.dev_guild
    removed = asyncio.run(clear_commands(settings.token, target))
    if target:
        where = f"server {target}" + (" (CLAIMLEDGER_DEV_GUILD)" if guild_id is None else "")
        if not removed:
            out.write(f"Nothing to remove: the bot has no commands in {where}.\n")
        else:
            out.write(f"Removed {len(removed)} commands from {where}: {', '.join(map(command_label, removed))}.\n")
    elif not removed:
        out.write("Nothing to remove: the bot has no global commands.\n")
    else:
        out.write(
            f"Removed {len(removed)} global commands: {', '.join(map(command_label, removed))}."
            " Discord may take up to an hour to update every server.\n"
        )
    return 0


COMMANDS = {
    "ask": cmd_ask,
    "import": cmd_import,
    "export": cmd_export,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "migrate": cmd_migrate,
    "embed": cmd_embed,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        logging.basicConfig(
            level=(args.log_level or settings.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if args.command == "run":
            return cmd_run(args, settings, out)
        if args.command == "sync":
            return cmd_sync(args, settings, out)
        return COMMANDS[args.command](args, settings, out)
    except ImportFileError as err:
        print(f"claimledger {args.command}: {err}", file=sys.stderr)
        for where, message in err.problems[10:]:
            print(f"  {location(where)}: {message}", file=sys.stderr)
        return 1
    except LedgerError as err:
        print(f"claimledger {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
