"""``gloo-bots`` (also ``python -m core``): the one entry point of every process.

Importing this module is light: ``gloo-bots --help`` and ``--version`` answer without
importing the service, the database layer or any adapter (``tests/core/test_cli_help.py`` keeps
it so). Each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.failures import StartupError
from core.registry import adapter_names

if TYPE_CHECKING:
    from core.adapters import Adapter
    from core.settings import Settings

DISTRIBUTION: Final = "gloo-bots"

#: The entry-point group of the development tools (``devtools``, the distribution
#: ``gloo-bots-devtools`` in the repository's ``tools/``, installed with the dev extra from the
#: uv workspace, which pip does not read: hence ``make``/``uv`` in the sentence below);
#: ``gloo-bots bench`` runs the ``bench`` entry there. The product never imports them.
TOOLS_GROUP: Final = "gloo_bots.tools"
NO_DEVTOOLS: Final = (
    "'gloo-bots {tool}' is a development tool and the development tools are not installed "
    "here: run 'make {tool}' in a clone of the repository (it installs them), or "
    "'uv sync --extra dev' there"
)


class _HelpFormatter(argparse.HelpFormatter):
    """Help that names each option's default, unless the help already does or there is none
    worth naming (a flag, an empty list, no default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or default is None
            or default is False
            or default == []
            or default == argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str | None = None,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A sub-command with its one-line ``summary`` (in ``gloo-bots --help``) and its
    ``description`` (in ``gloo-bots NAME --help``; the summary when none is given)."""
    return sub.add_parser(
        name,
        help=summary,
        description=description or f"{summary[0].upper()}{summary[1:]}.",
        formatter_class=_HelpFormatter,
        **kwargs,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gloo-bots",
        description="Gloo AI chat in Slack and Discord.",
        epilog="'gloo-bots COMMAND --help' describes a command; docs/cli.md lists them all.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"gloo-bots {_version()}",
        help="print the installed version and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _command(
        sub,
        "run",
        "run every configured part; with no platform tokens, the console playground",
        "Serve every configured platform (Slack, Discord) in this process, with the web "
        "server on $PORT (health checks, Slack's HTTP endpoints) and the scheduled jobs. "
        "With no platform tokens set, open the console playground instead.",
    )
    _command(
        sub,
        "chat",
        "the console playground",
        "Ask Gloo from this terminal, one question a line, in the same conversation as the "
        "bots keep; with no Gloo credentials the answers come from the built-in simulator.",
    )
    doctor = _command(
        sub,
        "doctor",
        "check the credentials, the database and its migrations",
        "Check the Gloo credentials, the database, its folder and migrations, ENCRYPTION_KEYS "
        "and each configured platform; print advice under every problem. Changes nothing. "
        "Exits with 1 when anything is wrong.",
    )
    doctor.add_argument(
        "--probe",
        action="store_true",
        help="also ask Gloo one real question, plain and streamed, and print the wire format",
    )
    doctor.add_argument(
        "--probe-stream",
        action="store_true",
        help="also ask Gloo one streamed question in a new chat and record for every process "
        "whether the stream named its chat (Message API)",
    )
    _command(
        sub,
        "worker",
        "the once-per-deployment background jobs (retention pruning)",
        "Run the once-per-deployment jobs (retention pruning) while this process holds the "
        "leader lock; no web server. Optional: serving processes compete for the lock too.",
    )
    for name in adapter_names():
        platform = _command(
            sub,
            name,
            f"serve {name.capitalize()} alone (its options: 'gloo-bots {name} --help')",
            add_help=False,
        )
        platform.add_argument(
            "adapter_args",
            nargs=argparse.REMAINDER,
            help=f"{name.capitalize()}'s own options, read by its adapter",
        )

    sim = _command(
        sub,
        "simulator",
        "serve a Gloo-compatible API (the Gloo simulator)",
        "Serve a Gloo-compatible API (OAuth tokens, the Message API, Completions V2) with "
        "seeded answers, for trying the bots without Gloo credentials.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    sim.add_argument("--port", type=int, default=8765, help="the port to listen on")
    sim.add_argument(
        "--seed", type=int, default=0, help="seed of the answers, sources and suggestions"
    )
    sim.add_argument("--token-ttl", type=float, default=3600.0, help="seconds a token lives")
    sim.add_argument(
        "--first-chunk-latency",
        type=float,
        default=0.3,
        metavar="SECONDS",
        help="seconds before a stream's first chunk",
    )
    sim.add_argument(
        "--chunk-latency",
        type=float,
        default=0.05,
        metavar="SECONDS",
        help="seconds between a stream's chunks",
    )
    sim.add_argument(
        "--stream-format",
        choices=("sse", "sse-nodone", "ndjson"),
        default="sse",
        help="how streams are framed: SSE ending with [DONE], SSE without it, or NDJSON",
    )
    sim.add_argument(
        "--text-mode",
        choices=("delta", "cumulative"),
        default="delta",
        help="each chunk carries the new text only, or all the text so far",
    )
    sim.add_argument(
        "--no-stream-chat-id",
        action="store_true",
        help="Message API streams carry no chat_id (the non-streamed answer still does)",
    )
    sim.add_argument(
        "--v2-routes",
        choices=("both", "documented", "newer"),
        default="both",
        help="which Completions V2 route forms answer (the others 404)",
    )
    sim.add_argument(
        "--citation-style",
        choices=("item", "legacy"),
        default="item",
        help="V2 citations as {item_title, item_url, snippets} or the older {title, url}",
    )
    sim.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="inject faults at a rate 0..1; KIND is 500, 502, 408, 429, drop or hang "
        "(repeatable, e.g. --fault 429=0.1 --fault drop=0.05)",
    )
    sim.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="accept this static key (repeatable; default: OAuth client credentials only)",
    )

    bench = _command(
        sub,
        "bench",
        "every benchmark: rows P1-P6, W1-W6, C1, C2 and S1 (a development tool)",
        "Run every benchmark row of docs/benchmarks.md against the Gloo simulator and the "
        "fake platforms: P1 overhead and P4 throughput (SQLite and PostgreSQL), P3 "
        "conversations in flight, P2 first visible text, P5 API calls and edits and P6 "
        "complete text (per platform), W1-W6 workspace scale (per platform), C1 and C2 "
        "cost per answer and S1 steady load (PostgreSQL). Prints the table and writes it "
        "to --output. Needs the development tools ('make bench').",
    )
    bench.add_argument(
        "--latency",
        type=float,
        default=0.5,
        help="P1, P2, P3, P5, P6: simulated Gloo latency, seconds",
    )
    bench.add_argument(
        "--conversations", type=int, default=100, help="P1, P4: conversations at once"
    )
    bench.add_argument(
        "--questions", type=int, default=3, help="P1, P4: questions per conversation"
    )
    bench.add_argument("--in-flight", type=int, default=1000, help="P3: conversations at once")
    bench.add_argument(
        "--platform-conversations",
        type=int,
        default=20,
        help="P2, P5, P6: answers per platform",
    )
    bench.add_argument(
        "--chunk-latency", type=float, default=0.06, help="P2, P5, P6: seconds between chunks"
    )
    bench.add_argument("--output", default="bench/results.json", help="the JSON results file")
    bench.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL database for the PostgreSQL runs; its tables are dropped "
        "(default: a fresh one on 127.0.0.1:5432 when a server answers there)",
    )

    db = _command(
        sub,
        "db",
        "database commands: upgrade, current, new-key, reencrypt",
        "Database commands (DATABASE_URL names the database).",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    _command(
        db_sub,
        "upgrade",
        "apply database migrations",
        "Apply every database migration not applied yet.",
    )
    _command(
        db_sub,
        "current",
        "show the applied and the latest migration",
        "Show the applied and the latest migration; exit with 1 when the database is behind.",
    )
    _command(
        db_sub,
        "new-key",
        "print a new key for ENCRYPTION_KEYS",
        "Print a new Fernet key: put it first in ENCRYPTION_KEYS, then run "
        "'gloo-bots db reencrypt'.",
    )
    _command(
        db_sub,
        "reencrypt",
        "encrypt every stored installation with the first ENCRYPTION_KEYS key",
        "Encrypt every stored installation (Slack OAuth installs) with the first key of "
        "ENCRYPTION_KEYS, after a key was added or rotated.",
    )
    return parser


FAULT_FIELDS = {
    "500": "error_500",
    "502": "error_502",
    "408": "error_408",
    "429": "error_429",
    "drop": "drop_stream",
    "hang": "hang",
}


def _fault_rates(specs: Sequence[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for spec in specs:
        kind, sep, value = spec.partition("=")
        if not sep or kind not in FAULT_FIELDS:
            raise SystemExit(f"--fault takes KIND=RATE with KIND one of {', '.join(FAULT_FIELDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise SystemExit(f"--fault {spec}: the rate must be a number from 0 to 1") from None
        if not 0.0 <= rate <= 1.0:
            raise SystemExit(f"--fault {spec}: the rate must be from 0 to 1")
        rates[FAULT_FIELDS[kind]] = rate
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # An adapter's own options ('gloo-bots discord --help') reach its parser untouched.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "adapter_args", None) is None:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.adapter_args = [*extra, *args.adapter_args]
    if args.command is None:
        parser.print_help()
        return 2
    from pydantic import ValidationError

    from core import eventloop
    from core.logs import configure_logging, log_thread_failures
    from core.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        from core.failures import report

        report(exc)
        return 2
    quiet = args.command in ("chat", "bench", "doctor") or (
        args.command == "run" and not _configured_adapters_exist(settings)
    )
    configure_logging(
        level=settings.log_level or ("WARNING" if quiet else "INFO"),
        fmt=settings.log_format,
        secrets=settings.secret_values(),
    )
    log_thread_failures()
    try:
        return eventloop.run(_dispatch(args, settings), settings.event_loop)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `gloo-bots chat | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # one sentence (core/failures.py), the traceback at DEBUG only
        from core.failures import report

        return report(exc, database_url=settings.database_url)


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "simulator":
        return await _simulator(args)
    if args.command == "db":
        return await _db(args, settings)
    if args.command == "run":
        return await _run(settings)
    if args.command == "chat":
        return await _chat(settings)
    if args.command == "worker":
        from core.adapters import run_worker

        return await run_worker(settings)
    if args.command == "doctor":
        from core.doctor import run_doctor

        adapters = [load_adapter(name) for name in adapter_names()]
        return await run_doctor(
            settings, adapters, probe=args.probe, probe_stream=args.probe_stream
        )
    if args.command == "bench":
        return await _bench(args, settings)
    if args.command in adapter_names():
        return await _adapter(args.command, args.adapter_args, settings)
    raise AssertionError(f"unhandled command {args.command}")


def load_adapter(name: str) -> Adapter:
    """Import and build the adapter called ``name`` (:func:`core.adapters.load_adapter`;
    importing it imports the service, so only the commands that need it do)."""
    from core import adapters

    return adapters.load_adapter(name)


def _configured_adapters_exist(settings: Settings) -> bool:
    return settings.has_slack or settings.has_discord


async def _run(settings: Settings) -> int:
    """Every configured adapter in this process; with none, the console playground."""
    adapters = [load_adapter(name) for name in adapter_names()]
    configured = [adapter for adapter in adapters if adapter.configured(settings)]
    if not configured:
        return await _chat(settings)
    return await _serve(settings, configured)


async def _adapter(name: str, argv: Sequence[str], settings: Settings) -> int:
    """``gloo-bots NAME [...]``: the adapter's own sub-command, or serve it alone."""
    from core.adapters import AdapterCommands

    adapter = load_adapter(name)
    parser = argparse.ArgumentParser(
        prog=f"gloo-bots {name}", description=adapter.help, formatter_class=_HelpFormatter
    )
    if isinstance(adapter, AdapterCommands):
        adapter.add_arguments(parser)
    args = parser.parse_args(list(argv))
    code = await adapter.command(args, settings) if isinstance(adapter, AdapterCommands) else None
    if code is not None:
        return code
    if not adapter.configured(settings):
        raise StartupError(
            f"{name.capitalize()} is not configured: set it up as docs/{name}.md says"
        )
    return await _serve(settings, [adapter])


async def _serve(settings: Settings, adapters: Sequence[Adapter]) -> int:
    """Serve people: on Gloo, or on the simulator only when GLOO_BACKEND=simulator says so."""
    import structlog

    from core.adapters import check_adapter_settings, serve_adapters
    from core.bootstrap import check_gloo_for_serving
    from core.console import simulator_banner

    check_gloo_for_serving(settings)
    check_adapter_settings(settings, adapters)
    if settings.uses_simulator:
        print(simulator_banner(settings), file=sys.stderr, flush=True)
        structlog.get_logger(__name__).warning(
            "gloo.simulated", detail="every answer says it is simulated"
        )
    return await serve_adapters(settings, adapters)


async def _chat(settings: Settings) -> int:
    from core.bootstrap import build
    from core.console import Console, read_stdin, simulator_banner, terminal_mode_kept

    async with build(settings) as container:
        if settings.uses_simulator:  # once the store opened: a failure stays one sentence
            print(simulator_banner(settings), flush=True)
        interactive = sys.stdin.isatty()
        if interactive:
            import readline  # noqa: F401 - gives input() line editing and history

        console = Console(container.service, sys.stdout, interactive=interactive)
        with terminal_mode_kept(sys.stdin if interactive else None):
            return await console.run(read_stdin, interrupts=True)


async def _simulator(args: argparse.Namespace) -> int:
    from core.simulator import SimulatorConfig, serve  # only this command serves it

    config = SimulatorConfig(
        seed=args.seed,
        token_ttl=args.token_ttl,
        first_chunk_latency=args.first_chunk_latency,
        chunk_latency=args.chunk_latency,
        stream_format=args.stream_format,
        text_mode=args.text_mode,
        api_keys=frozenset(args.api_key),
        stream_chat_id=not args.no_stream_chat_id,
        v2_routes=args.v2_routes,
        citation_style=args.citation_style,
    ).replace(**_fault_rates(args.fault))
    print(f"Gloo simulator on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    await serve(config, host=args.host, port=args.port)
    return 0


def load_tool(name: str) -> Callable[..., Awaitable[Any]]:
    """The development tool ``name`` from the ``gloo_bots.tools`` entry points.

    Raises :class:`StartupError` with a sentence saying how to install the tools when they
    are not installed (no entry point, or its package missing).
    """
    for ep in entry_points(group=TOOLS_GROUP):
        if ep.name == name:
            try:
                tool: Callable[..., Awaitable[Any]] = ep.load()
            except ModuleNotFoundError as exc:
                import structlog

                structlog.get_logger(__name__).warning("tools.missing", tool=name, module=exc.name)
                break
            return tool
    raise StartupError(NO_DEVTOOLS.format(tool=name))


async def _bench(args: argparse.Namespace, settings: Settings) -> int:
    run_bench = load_tool("bench")
    results = await run_bench(
        settings,
        latency=args.latency,
        conversations=args.conversations,
        questions=args.questions,
        in_flight=args.in_flight,
        platform_conversations=args.platform_conversations,
        chunk_latency=args.chunk_latency,
        output=Path(args.output),
        database_url=args.database_url,
    )
    return 0 if all(r.errors == 0 for r in results) else 1


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    from core.crypto import SecretBox
    from core.store.engine import normalize_database_url
    from core.store.migrate import current_revision, head_revision, upgrade

    url = normalize_database_url(settings.database_url)
    if args.db_command == "upgrade":
        await upgrade(url)
        print(f"Database is at migration {await current_revision(url)} (latest).")
        return 0
    if args.db_command == "current":
        current, head = await current_revision(url), head_revision()
        state = "up to date" if current == head else f"behind; run 'gloo-bots db upgrade' ({head})"
        print(f"Database migration: {current or 'none'} - {state}")
        return 0 if current == head else 1
    if args.db_command == "new-key":
        print(SecretBox.new_key())
        return 0
    if args.db_command == "reencrypt":
        return await _reencrypt(settings)
    print("usage: gloo-bots db {upgrade,current,new-key,reencrypt}", file=sys.stderr)
    return 2


async def _reencrypt(settings: Settings) -> int:
    """Seal every installation with the first key (after a key was added or rotated)."""
    from core.store.sql import SqlStore

    keys = settings.encryption_key_list
    if not keys:
        print("ENCRYPTION_KEYS is not set: nothing to encrypt with.", file=sys.stderr)
        return 1
    store = await SqlStore.open(settings.database_url, migrate=False)
    try:
        store.use_encryption_keys(keys)
        count = await store.reseal_installations()
    finally:
        await store.close()
    print(f"Encrypted {count} installation(s) with the first key of ENCRYPTION_KEYS.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
