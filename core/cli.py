"""``gloo-bots`` (also ``python -m core``): the one entry point of every process."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final

import structlog
from pydantic import ValidationError

from core.adapters import (
    Adapter,
    AdapterCommands,
    adapter_names,
    check_adapter_settings,
    load_adapter,
    run_worker,
    serve_adapters,
)
from core.bootstrap import StartupError, build, check_gloo_for_serving
from core.console import Console, read_stdin, simulator_banner, terminal_mode_kept
from core.crypto import SecretBox
from core.doctor import run_doctor
from core.logs import configure_logging
from core.settings import Settings
from core.store.engine import normalize_database_url
from core.store.migrate import current_revision, head_revision, upgrade
from core.store.sql import SqlStore

log = structlog.get_logger(__name__)

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gloo-bots",
        description="Gloo AI chat in Slack and Discord.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser(
        "run",
        help="run every configured part; with no platform tokens, the console playground",
    )
    sub.add_parser("chat", help="the console playground")
    doctor = sub.add_parser("doctor", help="check the credentials, the database and its migrations")
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
    sub.add_parser("worker", help="the once-per-deployment background jobs (retention pruning)")
    for name in adapter_names():
        platform = sub.add_parser(
            name,
            help=f"serve {name.capitalize()} (or run one of its commands; see '{name} --help')",
            add_help=False,
        )
        platform.add_argument("adapter_args", nargs=argparse.REMAINDER)

    sim = sub.add_parser("simulator", help="serve a Gloo-compatible API (the Gloo simulator)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--token-ttl", type=float, default=3600.0, help="seconds a token lives")
    sim.add_argument("--first-chunk-latency", type=float, default=0.3, metavar="SECONDS")
    sim.add_argument("--chunk-latency", type=float, default=0.05, metavar="SECONDS")
    sim.add_argument("--stream-format", choices=("sse", "sse-nodone", "ndjson"), default="sse")
    sim.add_argument("--text-mode", choices=("delta", "cumulative"), default="delta")
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
    sim.add_argument("--api-key", action="append", default=[], help="accept this static key")

    bench = sub.add_parser("bench", help="every benchmark (P, W, C and S rows; bench/results.json)")
    bench.add_argument("--latency", type=float, default=0.5, help="simulated Gloo latency, s")
    bench.add_argument("--conversations", type=int, default=100, help="P1: at once")
    bench.add_argument("--questions", type=int, default=3, help="questions per conversation")
    bench.add_argument("--in-flight", type=int, default=1000, help="P3: conversations at once")
    bench.add_argument(
        "--platform-conversations", type=int, default=20, help="P2/P5: answers per platform"
    )
    bench.add_argument(
        "--chunk-latency", type=float, default=0.06, help="P2/P5: seconds between chunks"
    )
    bench.add_argument("--output", default="bench/results.json")
    bench.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL database for the PostgreSQL runs "
        "(default: a fresh one on 127.0.0.1:5432 when a server answers there)",
    )

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    db_sub.add_parser("upgrade", help="apply database migrations")
    db_sub.add_parser("current", help="show the applied and the latest migration")
    db_sub.add_parser("new-key", help="print a new key for ENCRYPTION_KEYS")
    db_sub.add_parser(
        "reencrypt",
        help="encrypt every stored installation with the first ENCRYPTION_KEYS key",
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
    try:
        return asyncio.run(_dispatch(args, settings))
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
        return await run_worker(settings)
    if args.command == "doctor":
        adapters = [load_adapter(name) for name in adapter_names()]
        return await run_doctor(
            settings, adapters, probe=args.probe, probe_stream=args.probe_stream
        )
    if args.command == "bench":
        return await _bench(args, settings)
    if args.command in adapter_names():
        return await _adapter(args.command, args.adapter_args, settings)
    raise AssertionError(f"unhandled command {args.command}")


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
    adapter = load_adapter(name)
    parser = argparse.ArgumentParser(prog=f"gloo-bots {name}", description=adapter.help)
    if isinstance(adapter, AdapterCommands):
        adapter.add_arguments(parser)
    args = parser.parse_args(list(argv))
    code = await adapter.command(args, settings) if isinstance(adapter, AdapterCommands) else None
    if code is not None:
        return code
    if not adapter.configured(settings):
        raise StartupError(f"{name.capitalize()} is not configured: see the README's {name} setup")
    return await _serve(settings, [adapter])


async def _serve(settings: Settings, adapters: Sequence[Adapter]) -> int:
    """Serve people: on Gloo, or on the simulator only when GLOO_BACKEND=simulator says so."""
    check_gloo_for_serving(settings)
    check_adapter_settings(settings, adapters)
    if settings.uses_simulator:
        print(simulator_banner(settings), file=sys.stderr, flush=True)
        log.warning("gloo.simulated", detail="every answer says it is simulated")
    return await serve_adapters(settings, adapters)


async def _chat(settings: Settings) -> int:
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
                log.warning("tools.missing", tool=name, module=exc.name)
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
