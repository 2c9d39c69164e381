"""`mockserver verify VENDOR`: the mock checked against the real API a user's account reaches.

Contract tests have two halves: consumers test against the double, and the double is verified
against the provider. This is the second half (README.md, "Keep the mock true"). Exit 0: no
drift; 1: drift; 2: the run could not be made (one line on stderr says why).
"""
from __future__ import annotations

import argparse
import json
import re
import ssl
import sys
from pathlib import Path
from typing import Any, Mapping

NAMES = ("gravy", "gravitec", "groove", "integry", "passage")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "verify", help="check the mock against the real vendor API",
        description="Send a probe suite to the real API and the same calls to the mock (in "
        "process, same seed); report every difference of status, content type, the headers "
        "clients read, JSON shape and documented error text. Read-only and refused calls only, "
        "unless --allow-writes. Exit 0: no drift, 1: drift, 2: the run could not be made.")
    p.add_argument("vendor", choices=NAMES, metavar="VENDOR", help=", ".join(NAMES))
    p.add_argument("--base-url", metavar="URL",
                   help="the API to check (default: the vendor's real one)")
    p.add_argument("--credential", action="append", default=[], metavar="NAME=VALUE",
                   help="one of the vendor's inputs (repeat); else MOCKSERVER_<VENDOR>_<NAME> "
                   "(clientSecret: MOCKSERVER_GRAVY_CLIENT_SECRET), else --credentials")
    p.add_argument("--credentials", metavar="FILE",
                   help="a JSON file of the inputs: {\"clientId\": ...}, or by vendor as "
                   "GET /__admin/credentials answers")
    p.add_argument("--report", metavar="DIR",
                   help="write verify-<vendor>.json and verify-<vendor>.xml (JUnit) there")
    p.add_argument("--allow-writes", action="store_true",
                   help="also send the probes that change the account (labelled, removed "
                   "after where the API can)")
    p.add_argument("--seed", type=int, default=0, help="the mock's seed [0]")
    p.add_argument("--fixtures", metavar="DIR", help="the mock's fixtures [bundled]")
    p.add_argument("--rate", type=float, default=None, metavar="N",
                   help="requests a second to the API, at most 5 [2]")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="seconds per request [10]")
    p.add_argument("--ca-file", metavar="PEM",
                   help="trust this CA too (a proxy's, or `serve --tls`'s /__admin/ca.pem)")


def env_name(vendor: str, key: str) -> str:
    """MOCKSERVER_GRAVY_CLIENT_SECRET for ("gravy", "clientSecret")."""
    return f"MOCKSERVER_{vendor.upper()}_{re.sub(r'(?<!^)(?=[A-Z])', '_', key).upper()}"


class InputError(Exception):
    pass


def inputs(vendor: Any, flags: list[str], file: str | None,
           env: Mapping[str, str]) -> dict[str, str]:
    """The real side's inputs: a flag wins over the environment, which wins over the file."""
    declared = vendor.verify.INPUTS
    out: dict[str, str] = {}
    if file is not None:
        try:
            doc = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"--credentials {file}: {getattr(exc, 'strerror', None) or exc}")
        if isinstance(doc, dict) and isinstance(doc.get(vendor.name), dict):
            doc = doc[vendor.name]
        if not isinstance(doc, dict):
            raise InputError(f"--credentials {file}: not a JSON object")
        out.update({k: str(v) for k, v in doc.items() if k in declared and v is not None})
    for key in declared:
        value = env.get(env_name(vendor.name, key), "")
        if value:
            out[key] = value
    for flag in flags:
        key, sep, value = flag.partition("=")
        if not sep or key not in declared:
            raise InputError(f"--credential {key}: {vendor.name} takes "
                             f"{', '.join(declared)} (NAME=VALUE)")
        out[key] = value
    missing = [k for k, i in declared.items() if i.required and not out.get(k)]
    if missing:
        how = ", ".join(f"{k} (--credential {k}=..., {env_name(vendor.name, k)})" for k in missing)
        raise InputError(f"{vendor.name} needs {how}, or --credentials FILE")
    return out


def command(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    from ..app import create_app
    from .report import Scrub, table, write
    from .run import run

    import os
    env = os.environ if env is None else env
    server = create_app(seed=args.seed, fixtures=args.fixtures, journal_size=0)
    vendor = server.vendors[args.vendor]
    try:
        given = inputs(vendor, args.credential, args.credentials, env)
    except InputError as exc:
        return _cannot(args.vendor, str(exc))
    secrets = [v for k, v in given.items() if vendor.verify.INPUTS[k].secret]
    scrub = Scrub(secrets)
    bases = dict(vendor.verify.BASE_URLS)
    if args.base_url:
        if not re.match(r"https?://[^/\s]+", args.base_url):
            return _cannot(args.vendor, f"--base-url {args.base_url!r} is no http(s) URL")
        bases = {k: args.base_url for k in bases}
    tls: Any = True
    if args.ca_file:
        try:
            tls = ssl.create_default_context(cafile=args.ca_file)
        except (OSError, ssl.SSLError) as exc:
            return _cannot(args.vendor, f"--ca-file {args.ca_file}: {exc}")
    report = run(vendor, server, given, bases, allow_writes=args.allow_writes, rate=args.rate,
                 timeout=args.timeout, tls=tls)
    print(table(report, scrub), flush=True)
    if args.report:
        try:
            for path in write(report, args.report, scrub):
                print(f"wrote {path}")
        except OSError as exc:
            return _cannot(args.vendor, f"--report {args.report}: {exc.strerror or exc}")
    if report.error is not None:
        print(scrub(f"mockserver verify {args.vendor}: could not be made: {report.error}"),
              file=sys.stderr)
    return report.exit_code


def _cannot(vendor: str, why: str) -> int:
    print(f"mockserver verify {vendor}: {why}", file=sys.stderr)
    return 2
