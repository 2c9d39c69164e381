"""Command line: ``mockserver serve``, ``mockserver verify`` and ``mockserver record``.

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
from typing import Any

from .core.settings import SETTINGS, Setting


SWITCH_INTERVAL = 0.001  # seconds a thread may hold the interpreter while another waits
ACCESS_LOG_LEVELS = ("info", "debug", "trace")  # the levels that print a line per request


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
    _serve_options(serve)
    from .verify import NAMES, add_parser as add_verify  # argparse only: nothing heavy

    add_verify(sub)
    record = sub.add_parser(
        "record",
        help="serve, forwarding one vendor's calls to its real API",
        description="`serve --record VENDOR=URL`: VENDOR's calls go to its real API (or URL) "
        "and the client gets the real answer; each exchange is journaled beside what the mock "
        "answered and their differences (GET /__admin/requests?kind=recorded). The other "
        "vendors are the mock's. Every serve option applies.")
    record.add_argument("vendor", choices=NAMES, metavar="VENDOR", help=", ".join(NAMES))
    record.add_argument("url", nargs="?", metavar="URL",
                        help="where to forward (default: the vendor's real API)")
    _serve_options(record, skip=("record",))
    return parser


def _serve_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """Every setting's flag (`serve`'s options; `record` takes them too)."""
    for setting in SETTINGS.values():
        if setting.dest in skip:
            continue
        # Defaults are None so that parse_args can tell "not given" from "given".
        if setting.switch:
            parser.add_argument(setting.flag, action="store_true", default=None,
                                help=setting.help_text)
            continue
        parser.add_argument(setting.flag, type=setting.kind, metavar=setting.metavar,
                            choices=setting.choices, help=setting.help_text,
                            action="append" if setting.many else "store")


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` with precedence flag > environment > default."""
    env = os.environ if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        parser.exit(2)
    if args.command not in ("serve", "record"):
        return args
    if args.command == "record":  # `serve --record VENDOR=URL`, the variable not read
        args.record = [args.vendor if args.url is None else f"{args.vendor}={args.url}"]
    for setting in SETTINGS.values():
        if getattr(args, setting.dest) is None:
            setattr(args, setting.dest, _from_env(parser, setting, env))
    for setting in SETTINGS.values():  # the table's plain bounds, flag and variable alike
        if (why := setting.out_of_bounds(getattr(args, setting.dest))) is not None:
            parser.error(why)
    if not 0 < args.header_timeout < float("inf"):  # NaN fails too
        parser.error("header timeout must be a positive number of seconds")
    if args.tls_dir is not None and not args.tls:
        parser.error("--tls-dir (MOCKSERVER_TLS_DIR) is for --tls (MOCKSERVER_TLS=1)")
    try:
        args.cors_origins = parse_origins(args.cors_origins)
    except ValueError as exc:
        parser.error(f"--cors-origins: {exc}")
    try:
        args.record = parse_record(args.record)
    except ValueError as exc:
        parser.error(f"--record: {exc}")
    if args.record_dir is not None and args.record is None:
        parser.error("--record-dir (MOCKSERVER_RECORD_DIR) is for --record (MOCKSERVER_RECORD)")
    return args


def _from_env(parser: argparse.ArgumentParser, setting: Setting, env: Mapping[str, str]) -> Any:
    """The setting's value from its variable, or its default when the variable is unset."""
    var, raw = setting.env, env.get(setting.env, "")
    if raw == "":  # an empty variable means unset, as in most shells' ${VAR:-default}
        return setting.default
    try:
        value = setting.kind(raw)
    except ValueError:
        parser.error(f"{var}={raw!r} is not a valid {setting.kind.__name__}")
    if setting.choices is not None and value not in setting.choices:
        parser.error(f"{var}={raw!r} is not one of {', '.join(setting.choices)}")
    return value


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


def parse_record(value: str | list[str] | None) -> dict[str, str | None] | None:
    """`--record` values (each may be comma-separated; the variable is one text) as
    {vendor: URL}, None for the vendor's real API; None when nothing is recorded. ValueError
    for an unknown vendor, a vendor named twice, or a URL that is no http(s) base URL."""
    from .verify import NAMES

    texts = [value] if isinstance(value, str) else value or []
    out: dict[str, str | None] = {}
    for item in (i.strip() for text in texts for i in text.split(",")):
        if not item:
            continue
        vendor, sep, url = item.partition("=")
        vendor = vendor.strip()
        if vendor not in NAMES:
            raise ValueError(f"{vendor!r} is no vendor ({', '.join(NAMES)})")
        if vendor in out:
            raise ValueError(f"{vendor} is named twice")
        out[vendor] = _base_url(url.strip()) if sep else None
    return out or None


def _base_url(url: str) -> str:
    """An http(s) URL the vendor's paths are appended to (a path prefix is kept)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is no http(s) URL")
    if parts.query or parts.fragment or "#" in url or "?" in url:
        raise ValueError(f"{url!r}: a base URL has no query or fragment")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r}: credentials go in the client's requests, not in the URL")
    return url.rstrip("/")


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


def banner(url: str, admin_token: str | None = None, tls: bool = False,
           recorded: Mapping[str, str] | None = None) -> str:
    """What `serve` prints once it listens. The first line is parsed by tests and scripts
    (README.md, "More", Running): it never changes. The rest is for a person's first minutes.
    `recorded`: each recorded vendor and where its calls go."""
    token = "?token=<your --admin-token>" if admin_token else ""
    header = " with header X-Admin-Token" if admin_token else ""
    lines = [f"mockserver listening on {url}",
             f"  sandbox page  {url}/__admin/{token}",
             f"  credentials   GET {url}/__admin/credentials{header}, or README.md"]
    if tls:
        lines.append(f"  CA to trust   GET {url}/__admin/ca.pem")
    for vendor, where in (recorded or {}).items():
        lines.append(f"  recording     {vendor} -> {where} "
                     f"(GET {url}/__admin/requests?kind=recorded)")
    return "\n".join(lines)


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
    from mockserver.core.datadir import DataDirError
    from mockserver.core.state import StateError
    from mockserver.http1 import connection_bound, open_files_limit, protocol
    from mockserver.verify.record import RecordError

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
            record=args.record,
            record_dir=args.record_dir,
            data_dir=args.data_dir,
            data_dir_recover=args.data_dir_recover,
        )
    except DataDirError as exc:
        print(f"mockserver: --data-dir {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    except RecordError as exc:
        print(f"mockserver: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    except StateError as exc:
        first = f": {exc.details[0]}" if exc.details else ""
        more = f" (and {len(exc.details) - 1} more)" if len(exc.details) > 1 else ""
        line = f"mockserver: --state {args.state}: {exc.message}{first}{more}"
        # one line, whatever a detail holds
        print(line.replace("\r", " ").replace("\n", " "), file=sys.stderr)
        return 1
    recorder = app.recorder  # serve --record's, else None
    app_data = app.data      # --data-dir's, else None
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
            # at shutdown (MockServer answers lifespan) the recorder's HTTP client is closed and
            # --data-dir's last changes are written: before uvicorn re-raises SIGTERM
            lifespan="on" if recorder is not None or app_data is not None else "off",
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
        print(banner(f"{scheme}://{host}:{port}", args.admin_token, tls=ca is not None,
                     recorded=recorder.describe() if recorder is not None else None), flush=True)
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
    if args.command in ("serve", "record"):
        return serve(args)
    if args.command == "verify":
        from .verify import command

        return command(args)
    return 2  # unreachable: argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
