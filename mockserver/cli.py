"""Command line: ``mockserver serve``.

Heavy imports (uvicorn, the app) happen inside ``serve`` so that ``--help`` and
argument errors are instant and start-up stays well under the 1 s budget.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
from contextlib import ExitStack
from collections.abc import Mapping, Sequence


def boolean(raw: str) -> bool:
    """An environment switch: MOCKSERVER_TLS=1 (or true, yes, on; 0, false, no, off)."""
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


# flag dest -> (environment variable, type, default)
OPTIONS: dict[str, tuple[str, type, object]] = {
    "host": ("MOCKSERVER_HOST", str, "127.0.0.1"),
    "port": ("MOCKSERVER_PORT", int, 8080),
    "seed": ("MOCKSERVER_SEED", int, 0),
    "fixtures": ("MOCKSERVER_FIXTURES", str, None),
    "admin_token": ("MOCKSERVER_ADMIN_TOKEN", str, None),
    "journal_size": ("MOCKSERVER_JOURNAL_SIZE", int, 10000),
    "journal_bytes": ("MOCKSERVER_JOURNAL_BYTES", int, 32 * 1024 * 1024),
    "max_sessions": ("MOCKSERVER_MAX_SESSIONS", int, 10000),
    "max_faults": ("MOCKSERVER_MAX_FAULTS", int, 1000),
    "max_tenants": ("MOCKSERVER_MAX_TENANTS", int, 1000),
    "log_level": ("MOCKSERVER_LOG_LEVEL", str, "warning"),
    "log_format": ("MOCKSERVER_LOG_FORMAT", str, "text"),
    "tls": ("MOCKSERVER_TLS", boolean, False),
    "tls_dir": ("MOCKSERVER_TLS_DIR", str, None),
    "cors_origins": ("MOCKSERVER_CORS_ORIGINS", str, None),  # text here; a list after parse_args
    "state": ("MOCKSERVER_STATE", str, None),
    "max_connections": ("MOCKSERVER_MAX_CONNECTIONS", int, 1000),
    "header_timeout": ("MOCKSERVER_HEADER_TIMEOUT", float, 60.0),
    "max_header_bytes": ("MOCKSERVER_MAX_HEADER_BYTES", int, 16 * 1024),
}

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
SWITCH_INTERVAL = 0.001  # seconds a thread may hold the interpreter while another waits
ACCESS_LOG_LEVELS = ("info", "debug", "trace")  # the levels that print a line per request
LOG_FORMATS = ("text", "json")
CHOICES = {"log_level": LOG_LEVELS, "log_format": LOG_FORMATS}  # checked for env values too


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="Mock server of the Gravy Connect, Gravitec, Groove and Integry APIs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the HTTP server",
        description="Run the HTTP server. Every option can also come from its "
        "environment variable; a flag wins over the environment.",
    )
    # Defaults are None so that parse_args can tell "not given" from "given".
    serve.add_argument("--host", help="interface to bind [MOCKSERVER_HOST; 127.0.0.1]")
    serve.add_argument("--port", type=int, help="port to bind, 0 picks a free one [MOCKSERVER_PORT; 8080]")
    serve.add_argument("--seed", type=int, help="seed of the generated fixture data [MOCKSERVER_SEED; 0]")
    serve.add_argument("--fixtures", metavar="DIR", help="fixtures directory [MOCKSERVER_FIXTURES; bundled]")
    serve.add_argument(
        "--admin-token", metavar="T", help="require X-Admin-Token on /__admin [MOCKSERVER_ADMIN_TOKEN; open]"
    )
    serve.add_argument(
        "--journal-size", type=int, metavar="N", help="requests kept in the journal [MOCKSERVER_JOURNAL_SIZE; 10000]"
    )
    serve.add_argument(
        "--journal-bytes", type=int, metavar="N",
        help="approximate bytes the journal holds (bodies, headers, overhead), oldest dropped "
             "first [MOCKSERVER_JOURNAL_BYTES; 33554432]"
    )
    serve.add_argument(
        "--max-sessions", type=int, metavar="N",
        help="live tokens/sessions kept per tenant and vendor, oldest dropped first "
             "[MOCKSERVER_MAX_SESSIONS; 10000]"
    )
    serve.add_argument(
        "--max-tenants", type=int, metavar="N",
        help="tenants kept at once, the default one included (POST /__admin/tenants answers 409 "
             "beyond) [MOCKSERVER_MAX_TENANTS; 1000]"
    )
    serve.add_argument(
        "--max-faults", type=int, metavar="N",
        help="faults active at once (POST /__admin/faults) [MOCKSERVER_MAX_FAULTS; 1000]"
    )
    serve.add_argument(
        "--log-level", choices=LOG_LEVELS,
        help="log level; info and lower print one line per request [MOCKSERVER_LOG_LEVEL; warning]"
    )
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS,
        help="log lines as text or one JSON object each [MOCKSERVER_LOG_FORMAT; text]"
    )
    serve.add_argument(
        "--tls", action="store_true", default=None,
        help="serve HTTPS for the vendors' real hostnames from a local CA, fetched at "
             "/__admin/ca.pem [MOCKSERVER_TLS=1; off]"
    )
    serve.add_argument(
        "--tls-dir", metavar="DIR",
        help="keep the --tls CA in DIR (ca.pem, ca-key.pem) so clients trust it once "
             "[MOCKSERVER_TLS_DIR; a fresh CA per start]"
    )
    serve.add_argument(
        "--cors-origins", metavar="LIST",
        help="comma-separated browser origins (scheme://host[:port]) each vendor's CORS answers "
             "allow, refusing others as its framework does [MOCKSERVER_CORS_ORIGINS; *, any]"

    )
    serve.add_argument(
        "--state", metavar="FILE",
        help="load a state snapshot (GET /__admin/state) into the default tenant at start-up "
             "[MOCKSERVER_STATE; none]"
    )
    serve.add_argument(
        "--max-connections", type=int, metavar="N",
        help="most connections open at a time; past it a new one is closed at once (lowered "
             "to fit the open-file limit) [MOCKSERVER_MAX_CONNECTIONS; 1000]"
    )
    serve.add_argument(
        "--header-timeout", type=float, metavar="S",
        help="seconds a connection has to complete a request's headers, then 408 and closed "
             "[MOCKSERVER_HEADER_TIMEOUT; 60]"
    )
    serve.add_argument(
        "--max-header-bytes", type=int, metavar="N",
        help="largest request head (request line and headers), past it 431 and closed "
             "[MOCKSERVER_MAX_HEADER_BYTES; 16384]"
    )
    return parser


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` with precedence flag > environment > default."""
    env = os.environ if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        parser.exit(2)
    for dest, (var, kind, default) in OPTIONS.items():
        if getattr(args, dest) is not None:
            continue
        raw = env.get(var, "")
        if raw == "":  # an empty variable means unset, as in most shells' ${VAR:-default}
            setattr(args, dest, default)
            continue
        try:
            value = kind(raw)
        except ValueError:
            parser.error(f"{var}={raw!r} is not a valid {kind.__name__}")
        if dest in CHOICES and value not in CHOICES[dest]:
            parser.error(f"{var}={raw!r} is not one of {', '.join(CHOICES[dest])}")
        setattr(args, dest, value)
    if not 0 <= args.port <= 65535:
        parser.error(f"port {args.port} is out of range 0-65535")
    if args.max_sessions < 1:
        parser.error("max sessions must be at least 1")
    if args.max_tenants < 1:
        parser.error("max tenants must be at least 1")
    if args.max_faults < 0:
        parser.error("max faults must not be negative")
    if args.journal_size < 0:
        parser.error("journal size must not be negative")
    if args.journal_bytes < 0:
        parser.error("journal bytes must not be negative")
    if args.max_connections < 1:
        parser.error("max connections must be at least 1")
    if not 0 < args.header_timeout < float("inf"):  # NaN fails too
        parser.error("header timeout must be a positive number of seconds")
    if args.max_header_bytes < 64:  # room for a request line and a Host header
        parser.error("max header bytes must be at least 64")
    if args.tls_dir is not None and not args.tls:
        parser.error("--tls-dir (MOCKSERVER_TLS_DIR) is for --tls (MOCKSERVER_TLS=1)")
    try:
        args.cors_origins = parse_origins(args.cors_origins)
    except ValueError as exc:
        parser.error(f"--cors-origins: {exc}")
    return args


# A serialized origin as browsers send it: visible ASCII (IDNs are punycode), no path.
_ORIGIN = re.compile(r"null|[A-Za-z][A-Za-z0-9+.-]*://[!-~]+")


def parse_origins(value: str | None) -> list[str] | None:
    """`--cors-origins` text: None (any origin) for unset, empty or "*"; else the listed origins.
    ValueError for an entry that is not `scheme://host[:port]` (or "null"): with a path or a
    trailing slash no browser's `Origin` could ever match it."""
    items = [o.strip() for o in (value or "").split(",") if o.strip()]
    if not items or items == ["*"]:
        return None
    for item in items:
        if item == "*":
            raise ValueError("'*' allows every origin: give it alone, or list the origins")
        if not _ORIGIN.fullmatch(item) or any(ch in item.split("://", 1)[-1] for ch in "/?#"):
            raise ValueError(f"{item!r} is not an origin (scheme://host[:port], no path)")
    return items


def _bind(host: str, port: int):
    import socket

    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Same as uvicorn: a restart must not fail on connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        # Listen now, so clients that connect right after the banner wait in the
        # backlog instead of being refused before uvicorn takes the socket.
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def banner(url: str, admin_token: str | None = None, tls: bool = False) -> str:
    """What `serve` prints once it listens. The first line is parsed by tests and scripts
    (README.md, "More", Running): it never changes. The rest is for a person's first minutes."""
    token = "?token=<your --admin-token>" if admin_token else ""
    header = " with header X-Admin-Token" if admin_token else ""
    return (f"mockserver listening on {url}\n"
            f"  sandbox page  {url}/__admin/{token}\n"
            f"  credentials   GET {url}/__admin/credentials{header}, or README.md"
            + (f"\n  CA to trust   GET {url}/__admin/ca.pem" if tls else ""))


def read_state(path: str):
    """The snapshot in `path`, parsed strictly; StateError (one line each) when it cannot be."""
    from mockserver.core.state import BODY_LIMIT, StateError, parse

    try:
        with open(path, "rb") as f:
            raw = f.read(BODY_LIMIT + 1)
    except OSError as exc:
        raise StateError(f"cannot read it: {exc.strerror or exc}") from None
    if len(raw) > BODY_LIMIT:
        raise StateError(f"larger than {BODY_LIMIT // 2**20} MiB")
    return parse(raw)


def _tls_failed(tls_dir: str | None, exc: Exception) -> int:
    print(f"mockserver: cannot set up TLS in {tls_dir}: {exc}", file=sys.stderr)
    return 1


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockserver import create_app
    from mockserver.core.state import StateError
    from mockserver.http1 import connection_bound, open_files_limit, protocol

    ca = None
    if args.tls:
        from mockserver.tls import load_ca

        try:
            ca = load_ca(args.tls_dir)
        except (OSError, ValueError, TypeError) as exc:  # unwritable, unreadable, encrypted
            return _tls_failed(args.tls_dir, exc)
    # The app, with its --state, is built before the port is taken: a bad snapshot ends the
    # process with one line and nothing ever listened.
    try:
        app = create_app(
            seed=args.seed,
            fixtures=args.fixtures,
            admin_token=args.admin_token,
            journal_size=args.journal_size,
            journal_bytes=args.journal_bytes,
            max_sessions=args.max_sessions,
            max_faults=args.max_faults,
            max_tenants=args.max_tenants,
            ca_pem=ca.cert_pem.bytes() if ca else None,
            cors_origins=args.cors_origins,
            state=read_state(args.state) if args.state else None,
        )
    except StateError as exc:
        first = f": {exc.details[0]}" if exc.details else ""
        more = f" (and {len(exc.details) - 1} more)" if len(exc.details) > 1 else ""
        line = f"mockserver: --state {args.state}: {exc.message}{first}{more}"
        # one line, whatever a detail holds
        print(line.replace("\r", " ").replace("\n", " "), file=sys.stderr)
        return 1
    leaf = None
    if ca is not None:
        from mockserver.tls import hostnames, issue

        try:  # before anything listens: a --tls-dir CA key that cannot sign (Ed25519) ends here
            leaf = issue(ca, hostnames(app.vendors.values()))
        except (ValueError, TypeError) as exc:
            return _tls_failed(args.tls_dir, exc)
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        print(f"mockserver: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    tls_files = ExitStack()  # the server key's temporary file, kept until uvicorn has read it
    try:
        tls_options = {}
        if leaf is not None:
            from mockserver.tls import cert_file

            tls_options["ssl_certfile"] = tls_files.enter_context(cert_file(leaf))
        log_config = uvicorn.config.LOGGING_CONFIG
        if args.log_level in ACCESS_LOG_LEVELS:
            from mockserver.core.accesslog import AccessLog, with_access_log

            app, log_config = AccessLog(app), with_access_log(log_config, args.log_format)
        elif args.log_format == "json":  # uvicorn's own lines are JSON too
            from mockserver.core.accesslog import json_logging

            log_config = json_logging(log_config)
        files = open_files_limit()
        max_connections = connection_bound(args.max_connections, files)
        if max_connections < args.max_connections:
            print(f"mockserver: --max-connections {args.max_connections} lowered to "
                  f"{max_connections}: the process may open {files} files (ulimit -n)",
                  file=sys.stderr)
        config = uvicorn.Config(
            app,
            http=protocol(max_head=args.max_header_bytes, header_timeout=args.header_timeout,
                          max_connections=max_connections),
            lifespan="off",
            log_level=args.log_level,
            log_config=log_config,
            access_log=False,  # AccessLog's line, with the duration, replaces uvicorn's
            timeout_graceful_shutdown=5,
            **tls_options,
        )
        with tls_files:
            config.load()  # import protocol classes before the banner, not after
        server = uvicorn.Server(config)
        port = sock.getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        scheme = "https" if ca is not None else "http"
        print(banner(f"{scheme}://{host}:{port}", args.admin_token, tls=ca is not None), flush=True)
        # After a graceful shutdown uvicorn re-raises the signal that caused it:
        # SIGTERM then ends the process as killed by it, SIGINT arrives here.
        # Everything built so far (fixtures, schemas, imported modules) lives as long as the
        # process: moved out of the collector's reach, a full collection walks only what requests
        # made since (cut a Groove p99 from tens of ms to a few). Only here, not in create_app:
        # tests build many apps and frozen objects are never collected.
        gc.collect()
        gc.freeze()
        # Heavy control-plane work (an import, an export, a journal listing) and large vendor
        # bodies run in worker threads; the event loop waits for the interpreter each time it
        # wakes, up to this interval (5 ms by default, several times per request): 1 ms keeps
        # other clients' answers within a few ms meanwhile (bench/health_latency.py).
        sys.setswitchinterval(SWITCH_INTERVAL)
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return 130
    finally:
        tls_files.close()
        sock.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # unreachable: argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
