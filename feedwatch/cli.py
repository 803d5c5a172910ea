"""Command line: run, demo, once, tail, check, sources, search, filter, cluster, opml.

Data goes to stdout, diagnostics to stderr and the log file. Exit codes:
0 success · 1 every source failed, or a runtime failure · 2 bad usage, config or query ·
3 database problem (locked, read-only, full, damaged) · 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from . import __version__
from .config import (
    ENV_CONFIG,
    ENV_DB,
    ENV_TELEGRAM_BASE,
    ConfigError,
    Topic,
    default_config_path,
    default_db_path,
    default_log_path,
    load_topic,
)
from .model import EventKind, SourceState, Update, UpdateEvent
from .store import Store, StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DB, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
TAIL_CURSOR = "tail"

log = logging.getLogger("feedwatch")


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --- plumbing ----------------------------------------------------------------------------


class _SkippedRunFilter(logging.Filter):
    """A poll still running when its next turn comes is skipped by design (one run per
    source at a time); APScheduler warns about each such turn, which is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def setup_logging(path: Path | None, verbose: bool = False) -> Path | None:
    """Log to a file, never to the screen (the dashboard owns the terminal)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _SkippedRunFilter) for f in scheduler_log.filters):
        scheduler_log.addFilter(_SkippedRunFilter())
    if path is None:
        root.addHandler(logging.NullHandler())
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        print(f"feedwatch: cannot write log file {path}: {exc}", file=sys.stderr)
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


def err(message: str) -> None:
    print(f"feedwatch: {message}", file=sys.stderr, flush=True)


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config).expanduser() if args.config else default_config_path()


def load(args: argparse.Namespace) -> Topic:
    path = _config_path(args)
    if not args.config and not path.exists():
        if os.environ.get(ENV_CONFIG):
            raise CliError(f"{ENV_CONFIG} names {path}, which does not exist", EXIT_USAGE)
        raise CliError(f"no config file given and none at {path}; pass -c FILE "
                       "(see config/example.toml), or try `feedwatch demo`", EXIT_USAGE)
    try:
        return load_topic(path)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def db_path(args: argparse.Namespace, topic: Topic) -> Path:
    """--db, else $FEEDWATCH_DB, else one database per topic file in the user data dir."""
    if args.db:
        return Path(args.db).expanduser()
    if os.environ.get(ENV_DB) or topic.path is None:
        return default_db_path()
    digest = hashlib.sha1(str(topic.path.resolve()).encode()).hexdigest()[:8]
    return default_db_path().parent / "topics" / f"{topic.path.stem}-{digest}.db"


def open_store(path: Path) -> Store:
    try:
        return Store(path)
    except StoreError as exc:
        raise CliError(str(exc), EXIT_DB) from None


def _read_lines(path: str | None) -> Iterator[tuple[int, str]]:
    if path in (None, "-"):
        yield from enumerate(sys.stdin, start=1)
        return
    try:
        with open(path, encoding="utf-8") as fh:  # type: ignore[arg-type]
            yield from enumerate(fh, start=1)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None


# --- commands ----------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    topic = load(args)
    feeds = sum(1 for s in topic.sources if s.kind == "feed")
    channels = len(topic.sources) - feeds
    disabled = sum(1 for s in topic.sources if not s.enabled)
    print(f"{topic.path}: ok — topic {topic.name!r}: {_count(len(topic.sources), 'source')} "
          f"({_count(feeds, 'feed')}, {_count(channels, 'Telegram channel')}"
          + (f", {disabled} disabled" if disabled else "") + ")")
    if topic.query:
        print(f"  query: {topic.query}")
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _print_source_errors(results: list[Any]) -> None:
    for r in results:
        if r.error:
            err(f"{r.source}: {r.error}")
        elif r.warning:
            err(f"{r.source}: warning: {r.warning}")
        elif r.skipped:
            err(f"{r.source}: {r.skipped}")


def cmd_once(args: argparse.Namespace) -> int:
    from .engine import Engine
    from .output import Sink, collapsed, story_order

    topic = load(args)
    store = open_store(db_path(args, topic))
    sink = Sink(sys.stdout, args.format, live=False)

    async def main() -> list[Any]:
        async with Engine(topic, store) as engine:
            results = await engine.poll_all()
            events = story_order(e for r in results for e in r.events)
            for event in collapsed(events) if args.collapse else events:
                if engine.filter.show(event.update):
                    sink.write(event)
            sink.flush()
            return results

    try:
        results = asyncio.run(main())
    finally:
        store.close()
    _print_source_errors(results)
    db_errors = sorted({r.db_error for r in results if r.db_error})
    if db_errors:
        if db_errors[0] not in {r.error for r in results}:  # not already said per source
            err(db_errors[0])
        return EXIT_DB
    polled = [r for r in results if not r.skipped]
    if polled and all(not r.ok for r in polled):
        err("every source failed")
        return EXIT_FAILED
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    from .output import Sink

    topic = load(args)
    store = open_store(db_path(args, topic))
    sink = Sink(sys.stdout, args.format)
    return _run_tail(topic, store, sink, collapse=args.collapse)


def _run_tail(topic: Topic, store: Store, sink: Any, *, collapse: bool = False,
              ready: Any = None) -> int:
    """Poll forever; print from the store past a delivery cursor kept in the database, so a
    restart first prints whatever was stored but not yet printed (at-least-once)."""
    from .engine import Engine
    from .output import collapsed, stored_event, story_order

    async def main() -> None:
        engine = Engine(topic, store)
        wake = asyncio.Event()
        last_errors: dict[str, str | None] = {}

        def on_event(event: UpdateEvent) -> None:
            if event.kind is EventKind.EDITED and engine.filter.show(event.update):
                sink.write(event)
            wake.set()

        def on_state(state: SourceState) -> None:
            said = state.last_error or (f"warning: {state.warning}" if state.warning else None)
            if said and last_errors.get(state.source) != said:
                err(f"{state.source}: {said}")
            last_errors[state.source] = said

        engine.subscribe(on_event)
        engine.subscribe_states(on_state)
        cursor = await engine.db(store.cursor, TAIL_CURSOR)
        if cursor is None:
            cursor = await engine.db(store.max_id)
            await engine.db(store.set_cursor, TAIL_CURSOR, cursor)

        async def drain(cursor: int) -> int:
            while True:
                batch: list[Update] = await engine.db(store.updates_after, cursor, 500)
                if not batch:
                    return cursor
                events = story_order(map(stored_event, batch))
                for event in collapsed(events) if collapse else events:
                    if engine.filter.show(event.update):
                        sink.write(event)
                cursor = max(u.id for u in batch)
                await engine.db(store.set_cursor, TAIL_CURSOR, cursor)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_on(sig: signal.Signals) -> None:
            stopped_by.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop_on, sig)
        try:
            cursor = await drain(cursor)
            await engine.start()
            if ready is not None:
                ready()
            while not stop.is_set():
                waiter = asyncio.ensure_future(wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                wake.clear()
                cursor = await drain(cursor)
        finally:
            await engine.stop()

    stopped_by: list[signal.Signals] = []
    try:
        asyncio.run(main())
    except BrokenPipeError:
        _quiet_stdout()
    finally:
        store.close()
    # Ctrl-C is an interruption (130, as documented); SIGTERM, a service manager's stop, is not
    return EXIT_INTERRUPTED if signal.SIGINT in stopped_by else EXIT_OK


def _quiet_stdout() -> None:
    """The reader of our output went away (``| head``): point stdout at /dev/null so that
    nothing more, not even the flush at exit, raises BrokenPipeError."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def cmd_sources(args: argparse.Namespace) -> int:
    from .engine import source_identities

    topic = load(args)
    path = db_path(args, topic)
    states: dict[str, SourceState] = {}
    muted: set[str] = set()
    if path.exists():  # (nothing polled yet: no database made just to say so)
        store = open_store(path)
        try:
            # (renamed since the last poll; a read-only or locked database is still listed)
            with contextlib.suppress(StoreError):
                store.follow_renames(source_identities(topic))
            states = store.states()
            muted = store.muted_sources()
        except StoreError as exc:
            raise CliError(str(exc), EXIT_DB) from None
        finally:
            store.close()
    rows = []
    for spec in topic.sources:
        state = states.get(spec.name, SourceState(spec.name))
        status = "off" if not spec.enabled else state.health.value
        if spec.name in muted:
            status += " (muted)"
        rows.append({
            "name": spec.name, "kind": spec.kind.value, "url": spec.url, "status": status,
            "items": state.items, "failures": state.failures,
            "last_ok": state.last_ok.isoformat(timespec="seconds") if state.last_ok else None,
            "next_poll": state.next_due.isoformat(timespec="seconds") if state.next_due else None,
            "last_error": state.last_error, "warning": state.warning,
        })
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return EXIT_OK
    print(f"topic {topic.name!r} · database {path}")
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        last_ok = (r["last_ok"] or "never")[:19].replace("T", " ")
        items = f"{r['items']:>6} item{'' if r['items'] == 1 else 's'}"
        line = f"{r['name']:<{width}}  {r['status']:<9} {items:<12} last ok {last_ok}"
        if r["next_poll"]:
            line += f"  next {r['next_poll'][:19].replace('T', ' ')}"
        print(line)
        if r["last_error"]:
            print(f"{'':<{width}}  └ {r['last_error']}")
        elif r["warning"]:
            print(f"{'':<{width}}  └ warning: {r['warning']}")
    return EXIT_OK


def _parse_query(text: str) -> Any:
    from .query import QueryError, parse

    try:
        return parse(text)
    except QueryError as exc:
        raise CliError(f"invalid query: {exc.message}\n{exc.pretty()}", EXIT_USAGE) from None


def cmd_search(args: argparse.Namespace) -> int:
    from .output import Sink, stored_event

    query = _parse_query(args.query)
    topic = load(args)
    store = open_store(db_path(args, topic))
    try:
        expression = query.fts_expression()
        candidates = store.search(expression, limit=1_000_000) if expression else \
            store.all_updates()
    except StoreError as exc:
        raise CliError(str(exc), EXIT_DB) from None
    finally:
        store.close()
    matches = [u for u in candidates if query.matches(u)]
    matches.sort(key=lambda u: (u.published, u.id))
    if args.limit:
        matches = matches[-args.limit:]
    sink = Sink(sys.stdout, args.format, live=False)
    for update in matches:
        sink.write(stored_event(update), query.highlights(update))
    sink.flush()
    if not matches:
        err(f"nothing stored matches {args.query!r}")
    return EXIT_OK if matches else EXIT_FAILED


class _JsonDoc:
    __slots__ = ("lang", "source", "text", "title", "url")

    def __init__(self, record: dict[str, Any]) -> None:
        self.title = str(record.get("title") or "")
        self.text = str(record.get("text") or "")
        self.source = str(record.get("source") or "")
        self.url = record.get("url") if isinstance(record.get("url"), str) else None
        self.lang = record.get("lang") if isinstance(record.get("lang"), str) else None


def cmd_filter(args: argparse.Namespace) -> int:
    query = _parse_query(args.query)
    out: IO[str] = sys.stdout
    where = args.input or "<stdin>"
    for number, line in _read_lines(args.input):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            err(f"{where}:{number}: not a JSON line ({exc.msg}), skipped")
            continue
        if not isinstance(record, dict):
            err(f"{where}:{number}: not a JSON object, skipped")
            continue
        doc = _JsonDoc(record)
        if query.matches(doc):
            record["highlights"] = [list(h) for h in query.highlights(doc)]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
    return EXIT_OK


def cmd_cluster(args: argparse.Namespace) -> int:
    from .dedupe import DedupeSettings, cluster_records

    records = []
    where = args.input or "<stdin>"
    for number, line in _read_lines(args.input):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{where}:{number}: not a JSON line ({exc.msg})", EXIT_USAGE) from None
        if not isinstance(record, dict) or "id" not in record:
            raise CliError(f"{where}:{number}: expected an object with an 'id'", EXIT_USAGE)
        records.append(record)
    settings = DedupeSettings()
    if args.window:
        from .config import parse_duration

        settings = DedupeSettings(window=parse_duration(args.window),
                                  threshold=settings.threshold)
    if args.threshold is not None:
        settings = DedupeSettings(window=settings.window, threshold=args.threshold)
    try:
        pairs = cluster_records(records, settings)
    except (ValueError, TypeError) as exc:
        raise CliError(f"{where}: {exc}", EXIT_USAGE) from None
    for record_id, cluster in pairs:
        sys.stdout.write(json.dumps({"id": record_id, "cluster": cluster},
                                    ensure_ascii=False) + "\n")
    return EXIT_OK


def cmd_opml(args: argparse.Namespace) -> int:
    from .opml import OpmlError, export_opml, import_opml

    if args.action == "export":
        sys.stdout.write(export_opml(load(args)))
        return EXIT_OK
    if not args.file:
        raise CliError("opml import needs an OPML file: feedwatch opml import FILE", EXIT_USAGE)
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}", EXIT_USAGE) from None
    try:
        sys.stdout.write(import_opml(data))
    except OpmlError as exc:
        raise CliError(f"{args.file}: {exc}", EXIT_USAGE) from None
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    topic = load(args)
    store = open_store(db_path(args, topic))
    from .ui.app import run_dashboard

    try:
        return run_dashboard(topic, store)
    finally:
        store.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import run_demo

    if args.config:
        raise CliError("demo replays its own topic and reads no topic file; to watch yours, "
                       f"run `feedwatch run -c {args.config}`", EXIT_USAGE)
    return run_demo(speed=args.speed, headless=args.headless, port=args.port, db=args.db)


# --- parser ------------------------------------------------------------------------------


_FORMAT_HELP = "jsonl: a JSON object per line, for scripts; text: a line per update to read"
_QUERY_HELP = ("words, \"phrases\", OR, -exclude, prefix*, /regex/, title: text: source: url: "
               "lang: fields; e.g. 'istanbul talks -football' (README: Query language)")


def build_parser() -> argparse.ArgumentParser:
    log_path = default_log_path()
    parser = argparse.ArgumentParser(
        prog="feedwatch",
        description="Watch a breaking story live: feeds and Telegram channels, deduplicated, "
        "filtered, in time order.",
        epilog=f"Log file: {log_path} (override with --log-file or $FEEDWATCH_LOG). "
        f"Config: {default_config_path()} by default. "
        "Exit codes: 0 ok, 1 every source failed / nothing found, 2 bad usage, config or query, "
        "3 database problem, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"feedwatch {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", metavar="FILE", help="topic file (TOML)")
    common.add_argument("--db", metavar="FILE", help="database file (default: one per topic "
                        "file in the user data dir; or $FEEDWATCH_DB)")
    common.add_argument("--log-file", metavar="FILE", help=f"log file (default {log_path})")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_, description=help_)

    p = add("run", "open the live dashboard for a topic")
    p.set_defaults(func=cmd_run)
    p = add("demo", "the dashboard on a built-in replay of a live story (works offline)")
    p.add_argument("--speed", type=float, default=30.0,
                   help="replay speed: story seconds per real second (default 30)")
    p.add_argument("--headless", action="store_true", help="print updates instead of the UI")
    p.add_argument("--port", type=int, default=0, help="port of the replay server")
    p.set_defaults(func=cmd_demo)
    for name, help_ in (("once", "poll every source once; print new matching updates"),
                        ("tail", "poll forever; print each new matching update")):
        p = add(name, help_)
        p.add_argument("--format", choices=("jsonl", "text"), default="jsonl",
                       help=_FORMAT_HELP)
        p.add_argument("--collapse", action="store_true",
                       help="don't print updates that join an existing cluster")
        p.set_defaults(func=cmd_once if name == "once" else cmd_tail)
    p = add("check", "validate a topic file")
    p.set_defaults(func=cmd_check)
    p = add("sources", "list a topic's sources with their health")
    p.add_argument("--format", choices=("text", "jsonl"), default="text")
    p.set_defaults(func=cmd_sources)
    p = add("search", "search the stored history (query language)")
    p.add_argument("query", help=_QUERY_HELP)
    p.add_argument("--format", choices=("jsonl", "text"), default="jsonl",
                   help=_FORMAT_HELP)
    p.add_argument("--limit", type=int, default=0, help="print only the newest N matches")
    p.set_defaults(func=cmd_search)
    p = add("filter", "filter update JSON lines (stdin or --input) with a query")
    p.add_argument("query", help=_QUERY_HELP)
    p.add_argument("--input", metavar="FILE", help="JSON lines to read (default: stdin)")
    p.set_defaults(func=cmd_filter, no_log=True)
    p = add("cluster", "assign clusters to update JSON lines (stdin or --input)")
    p.add_argument("--input", metavar="FILE", help="JSON lines to read (default: stdin)")
    p.add_argument("--window", help="dedupe window, e.g. 6h")
    p.add_argument("--threshold", type=float, help="similarity needed to join a story (0-1)")
    p.set_defaults(func=cmd_cluster, no_log=True)
    p = add("opml", "export a topic's sources as OPML, or turn an OPML file into [[source]] "
            "blocks to paste into a topic file")
    p.add_argument("action", choices=("export", "import"))
    p.add_argument("file", nargs="?", help="the OPML file to import")
    p.set_defaults(func=cmd_opml, no_log=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    log_file = Path(args.log_file).expanduser() if args.log_file else default_log_path()
    setup_logging(None if getattr(args, "no_log", False) else log_file, args.verbose)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return code
    except CliError as exc:
        err(str(exc))
        return exc.code
    except StoreError as exc:
        err(str(exc))
        return EXIT_DB
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `feedwatch search … | head -1`: stop quietly, as Unix tools do
        _quiet_stdout()
        return EXIT_OK


__all__ = ["ENV_TELEGRAM_BASE", "main"]
