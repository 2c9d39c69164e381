"""The server's settings, each default written here once.

`mockserver serve` builds its flags, environment variables, `--help` text and bounds from
`SETTINGS`; `create_app()` and the modules that hold a bound (the journal, tenants, faults,
sessions, the HTTP/1.1 protocol) take their defaults from `DEFAULTS`. A bound that is no server
flag (a cache's size, say) stays in its own module.

This module imports nothing of the project, so any module may import it.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping


def boolean(raw: str) -> bool:
    """An environment switch: MOCKSERVER_TLS=1 (or true, yes, on; 0, false, no, off)."""
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


@dataclass(frozen=True, slots=True)
class Setting:
    """One `serve` option: `--flag`, its environment variable, its type and default."""

    dest: str                   # argparse's dest; create_app's keyword where it has one
    env: str                    # MOCKSERVER_...; an empty value counts as unset
    kind: Callable[[str], Any]  # parses the flag's or the variable's text
    default: Any
    help: str                   # --help's text, before "[ENV; default]"
    unset: str | None = None    # what --help shows as the default when it is not a value
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: int | None = None  # the smallest value accepted (from the flag or the environment)
    maximum: int | None = None
    switch: bool = False        # a flag without a value (store_true); its variable takes `boolean`
    many: bool = False          # a flag given again adds a value; its variable: comma-separated

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def help_text(self) -> str:
        """`--help`'s line for it: the text, then `[variable; default]`."""
        env = f"{self.env}=1" if self.switch else self.env
        if self.unset is not None:
            shown = self.unset
        elif isinstance(self.default, float):
            shown = f"{self.default:g}"
        else:
            shown = str(self.default)
        return f"{self.help} [{env}; {shown}]"

    def out_of_bounds(self, value: Any) -> str | None:
        """Why `value` is refused, or None when it is within the bounds."""
        name = self.dest.replace("_", " ")
        if self.maximum is not None and not self.minimum <= value <= self.maximum:
            return f"{name} {value} is out of range {self.minimum}-{self.maximum}"
        if self.minimum is not None and value < self.minimum:
            if self.minimum == 0:
                return f"{name} must not be negative"
            return f"{name} must be at least {self.minimum}"
        return None


_TABLE = (
    Setting("host", "MOCKSERVER_HOST", str, "127.0.0.1", "interface to bind"),
    Setting("port", "MOCKSERVER_PORT", int, 8080, "port to bind, 0 picks a free one",
            minimum=0, maximum=65535),
    Setting("seed", "MOCKSERVER_SEED", int, 0, "seed of the generated fixture data"),
    Setting("fixtures", "MOCKSERVER_FIXTURES", str, None, "fixtures directory",
            unset="bundled", metavar="DIR"),
    Setting("admin_token", "MOCKSERVER_ADMIN_TOKEN", str, None,
            "require X-Admin-Token on /__admin", unset="open", metavar="T"),
    Setting("journal_size", "MOCKSERVER_JOURNAL_SIZE", int, 10_000,
            "requests kept in the journal", metavar="N", minimum=0),
    # About what the bodies of a full journal of 10,000 calls may hold.
    Setting("journal_bytes", "MOCKSERVER_JOURNAL_BYTES", int, 32 * 1024 * 1024,
            "approximate bytes the journal holds (bodies, headers, overhead), oldest dropped "
            "first", metavar="N", minimum=0),
    Setting("max_sessions", "MOCKSERVER_MAX_SESSIONS", int, 10_000,
            "live tokens/sessions kept per tenant and vendor, oldest dropped first",
            metavar="N", minimum=1),
    Setting("max_tenants", "MOCKSERVER_MAX_TENANTS", int, 1000,
            "tenants kept at once, the default one included (POST /__admin/tenants answers 409 "
            "beyond)", metavar="N", minimum=1),
    Setting("max_faults", "MOCKSERVER_MAX_FAULTS", int, 1000,
            "faults active at once (POST /__admin/faults)", metavar="N", minimum=0),
    Setting("log_level", "MOCKSERVER_LOG_LEVEL", str, "warning",
            "log level; info and lower print one line per request",
            choices=("critical", "error", "warning", "info", "debug", "trace")),
    Setting("log_format", "MOCKSERVER_LOG_FORMAT", str, "text",
            "log lines as text or one JSON object each", choices=("text", "json")),
    Setting("tls", "MOCKSERVER_TLS", boolean, False,
            "serve HTTPS for the vendors' real hostnames from a local CA, fetched at "
            "/__admin/ca.pem", unset="off", switch=True),
    Setting("tls_dir", "MOCKSERVER_TLS_DIR", str, None,
            "keep the --tls CA in DIR (ca.pem, ca-key.pem) so clients trust it once",
            unset="a fresh CA per start", metavar="DIR"),
    # Text here; the CLI turns it into a list of origins (None: any).
    Setting("cors_origins", "MOCKSERVER_CORS_ORIGINS", str, None,
            "comma-separated browser origins (scheme://host[:port]) each vendor's CORS answers "
            "allow, refusing others as its framework does", unset="*, any", metavar="LIST"),
    Setting("state", "MOCKSERVER_STATE", str, None,
            "load a state snapshot (GET /__admin/state) into the default tenant at start-up",
            unset="none", metavar="FILE"),
    Setting("max_connections", "MOCKSERVER_MAX_CONNECTIONS", int, 1000,
            "most connections open at a time; past it a new one is closed at once (lowered to "
            "fit the open-file limit)", metavar="N", minimum=1),
    # Node's server.headersTimeout. Its bound (positive and finite) is no plain minimum: the
    # CLI checks it.
    Setting("header_timeout", "MOCKSERVER_HEADER_TIMEOUT", float, 60.0,
            "seconds a connection has to complete a request's headers, then 408 and closed",
            metavar="S"),
    # Node's --max-http-header-size; at least room for a request line and a Host header.
    Setting("max_header_bytes", "MOCKSERVER_MAX_HEADER_BYTES", int, 16 * 1024,
            "largest request head (request line and headers), past it 431 and closed",
            metavar="N", minimum=64),
    # Text here, as given (flags are a list, the variable comma-separated); the CLI turns it into
    # {vendor: URL or None}, None being the vendor's real API (mockserver/verify/record.py).
    Setting("record", "MOCKSERVER_RECORD", str, None,
            "forward VENDOR's calls to its real API (or URL) and journal each beside the mock's "
            "answer and their differences; repeat or comma-separate", unset="none",
            metavar="VENDOR[=URL]", many=True),
    Setting("record_dir", "MOCKSERVER_RECORD_DIR", str, None,
            "with --record: write each exchange there as a fixture (--fixtures reads it)",
            unset="none", metavar="DIR"),
    Setting("data_dir", "MOCKSERVER_DATA_DIR", str, None,
            "keep every tenant, its state, the clock and the faults in DIR across restarts",
            unset="none: in memory", metavar="DIR"),
    Setting("data_dir_recover", "MOCKSERVER_DATA_DIR_RECOVER", boolean, False,
            "start even when a file in --data-dir is bad: move it aside (DIR/recovered/) and "
            "go on with the rest", unset="off", switch=True),
)

# By dest, in --help's order.
SETTINGS: Mapping[str, Setting] = MappingProxyType({s.dest: s for s in _TABLE})
DEFAULTS: Mapping[str, Any] = MappingProxyType({s.dest: s.default for s in _TABLE})
