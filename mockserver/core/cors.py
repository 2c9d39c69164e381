"""CORS as each vendor's framework answers a browser app: one mechanism, one policy per framework.

A vendor declares its framework's CORS middleware as data (`Vendor.cors`, e.g. `ExpressCors()`);
`--cors-origins` narrows the origins (`with_origins`); `VendorApp` asks the policy three things:

- `always` / `routed`: headers the middleware puts on every response (or on every response of a
  mapped route) whatever the request: static, so requests without `Origin` pay nothing for CORS;
- `before(...)`: for an OPTIONS request or one with an `Origin` header, the middleware's own
  answer (a preflight, or a refusal) before any route runs, or None to route the request;
- `after(...)`: the headers an actual request with `Origin` gets on its response.

Header values that are not visible ASCII are never reflected: real servers refuse such requests in
their HTTP parser, and echoing one would break the response.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping
from urllib.parse import urlsplit

from .http import RawJSON, header

if TYPE_CHECKING:
    from starlette.types import Scope


_VISIBLE = re.compile(r"[\t\x20-\x7e]*")
def _visible(value: str | None) -> str | None:
    return value if value is not None and _VISIBLE.fullmatch(value) else None


def empty(status: int, headers: Mapping[str, str], body: bytes = b"",
          content_type: bytes | None = None) -> RawJSON:
    """A response with exactly these headers (and Content-Length), no content type unless given."""
    response = _Raw(body, status, headers)
    response.content_type = content_type
    return response


class _Raw(RawJSON):
    """RawJSON whose content type may be absent (a preflight answer has none)."""

    __slots__ = ()

    async def __call__(self, scope, receive, send) -> None:
        raw = [(b"content-length", str(len(self.body)).encode())]
        if self.content_type:
            raw.insert(0, (b"content-type", self.content_type))
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(frozen=True)
class CorsPolicy:
    """A framework's CORS middleware as configured; `origins` None allows any origin."""

    origins: tuple[str, ...] | None = None
    app_headers_on_early: ClassVar[bool] = False   # vendor app headers on `before` answers

    def with_origins(self, origins: list[str] | None) -> "CorsPolicy":
        return replace(self, origins=tuple(origins) if origins is not None else None)

    @property
    def always(self) -> dict[str, str]:
        return {}

    @property
    def routed(self) -> dict[str, str]:
        return {}

    def before(self, scope: "Scope", method: str, origin: str | None,
               allowed: Callable[[str], tuple[str, ...]],
               routed: bool) -> Any:
        return None

    def after(self, scope: "Scope", method: str, origin: str, routed: bool) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class ExpressCors(CorsPolicy):
    """The `cors` npm package as NestJS's `app.enableCors(options)` installs it, before routing:
    every OPTIONS is a preflight answered 204 (preflightContinue false); origin "*" is sent to
    every request, Origin or not; an origin list reflects a listed origin and adds `Vary: Origin`
    to every response; Access-Control-Request-Headers is reflected (no allowedHeaders); no
    Max-Age and no credentials unless configured."""

    methods: str = "GET,HEAD,PUT,PATCH,POST,DELETE"
    options_success_status: int = 204
    app_headers_on_early: ClassVar[bool] = True   # Express sets X-Powered-By before middleware

    @property
    def always(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": "*"} if self.origins is None else {"Vary": "Origin"}

    def _origin(self, origin: str | None) -> dict[str, str]:
        if self.origins is None:
            return {"Access-Control-Allow-Origin": "*"}
        if origin is not None and origin in self.origins:
            return {"Access-Control-Allow-Origin": origin}
        return {}

    def before(self, scope, method, origin, allowed, routed):
        if method != "OPTIONS":
            return None
        headers = self._origin(origin)
        headers["Access-Control-Allow-Methods"] = self.methods
        vary = ["Access-Control-Request-Headers"] if self.origins is None \
            else ["Origin", "Access-Control-Request-Headers"]
        headers["Vary"] = ", ".join(vary)
        requested = _visible(header(scope, b"access-control-request-headers"))
        if requested:
            headers["Access-Control-Allow-Headers"] = requested
        return empty(self.options_success_status, headers)

    def after(self, scope, method, origin, routed):
        return self._origin(origin) if self.origins is not None else {}


def _port(scheme: str | None, port: int | None) -> int | None:
    if port is None:
        return {"http": 80, "ws": 80, "https": 443, "wss": 443}.get(scheme or "")
    return port


@dataclass(frozen=True)
class SpringCors(CorsPolicy):
    """Spring MVC 5.2 with `@CrossOrigin` on the controllers (its defaults: any origin, the
    mapping's own methods, any header, Max-Age 1800, no credentials). A mapped route's every
    response carries `Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers`
    (DefaultCorsProcessor adds it before looking at the request); a cross-origin request from a
    disallowed origin, or a preflight for a method the path does not map, is refused with
    `403 Invalid CORS request` before the handler runs. A same-origin `Origin` is not CORS."""

    max_age: int = 1800
    REFUSAL: ClassVar[bytes] = b"Invalid CORS request"
    VARY: ClassVar[str] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

    @property
    def routed(self) -> dict[str, str]:
        return {"Vary": self.VARY}

    def _refuse(self) -> RawJSON:
        return empty(403, {"Vary": self.VARY}, self.REFUSAL)

    def _allow(self, origin: str) -> str | None:
        if self.origins is None:
            return "*"
        low = origin.lower()   # CorsConfiguration.checkOrigin: equalsIgnoreCase
        return origin if any(o.lower() == low for o in self.origins) else None

    def _cross(self, scope, origin: str) -> bool:
        """CorsUtils.isCorsRequest: an Origin other than this request's scheme://host:port."""
        try:
            url = urlsplit(origin)
            theirs = (url.scheme, url.hostname, _port(url.scheme, url.port))
        except ValueError:
            return True
        scheme = scope.get("scheme", "http")
        host = header(scope, b"host") or ""
        try:
            own = urlsplit(f"//{host}")
            ours = (scheme, own.hostname, _port(scheme, own.port))
        except ValueError:
            return True
        return theirs != ours

    def before(self, scope, method, origin, allowed, routed):
        if origin is None or not self._cross(scope, origin):
            return None
        requested = header(scope, b"access-control-request-method") if method == "OPTIONS" else None
        if requested is None:   # an actual request: only mapped handlers carry a CORS config
            return None if not routed or self._allow(origin) else self._refuse()
        path = scope["vendor_path"]
        mapped = allowed(path)
        if not mapped:
            return None   # no handler at all: Spring Boot's 404, no CORS
        if requested not in mapped or requested in ("HEAD", "OPTIONS"):
            return self._refuse()   # Spring's OPTIONS handler has no CORS config
        allow_origin = self._allow(origin)
        if allow_origin is None:
            return self._refuse()
        headers = {"Vary": self.VARY, "Access-Control-Allow-Origin": allow_origin,
                   "Access-Control-Allow-Methods": requested}   # each mapping has one method
        names = [h.strip() for h in (_visible(header(scope, b"access-control-request-headers"))
                                     or "").split(",") if h.strip()]
        if names:
            headers["Access-Control-Allow-Headers"] = ", ".join(names)
        headers["Access-Control-Max-Age"] = str(self.max_age)
        return empty(200, headers)

    def after(self, scope, method, origin, routed):
        if not routed or not self._cross(scope, origin):
            return {}
        allow_origin = self._allow(origin)
        return {"Access-Control-Allow-Origin": allow_origin} if allow_origin else {}


@dataclass(frozen=True)
class RackCors(CorsPolicy):
    """rack-cors first in the Rails stack, configured as its README and Rails' generated
    `cors.rb` show: `resource "*", headers: :any, methods: [:get, :post, :put, :patch, :delete,
    :options, :head]`, Max-Age its default 7200, no credentials. Only requests with `Origin` are
    CORS; a preflight is answered 200 with no body and nothing but CORS headers (none at all
    for a refused origin or method); actual responses also carry Allow-Methods and Max-Age; every
    response but a preflight has `Vary: Origin`."""

    methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
    max_age: int = 7200

    @property
    def always(self) -> dict[str, str]:
        return {"Vary": "Origin"}

    def _headers(self, origin: str) -> dict[str, str] | None:
        if self.origins is None:
            allow = "*"
        elif origin in self.origins:
            allow = origin
        else:
            return None
        return {"Access-Control-Allow-Origin": allow,
                "Access-Control-Allow-Methods": ", ".join(self.methods),
                "Access-Control-Expose-Headers": "",
                "Access-Control-Max-Age": str(self.max_age)}

    def before(self, scope, method, origin, allowed, routed):
        if origin is None or method != "OPTIONS":
            return None
        requested = header(scope, b"access-control-request-method")
        if requested is None:
            return None
        if "\x00" in scope["vendor_path"]:   # Rack::Utils.valid_path?
            return empty(400, {})
        headers = self._headers(origin)
        if headers is None or requested.upper() not in self.methods:
            return empty(200, {})
        asked = _visible(header(scope, b"access-control-request-headers"))
        if asked is not None:
            headers["Access-Control-Allow-Headers"] = asked
        return empty(200, headers)

    def after(self, scope, method, origin, routed):
        return self._headers(origin) or {}


DJANGO_HEADERS = ("accept", "authorization", "content-type", "user-agent", "x-csrftoken",
                  "x-requested-with")
DJANGO_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass(frozen=True)
class DjangoCors(CorsPolicy):
    """django-cors-headers' CorsMiddleware (CORS_URLS_REGEX all paths; CORS_ALLOW_ALL_ORIGINS
    without `--cors-origins`, CORS_ALLOWED_ORIGINS with it; no credentials). Every response gets
    `Vary: origin`; OPTIONS with Access-Control-Request-Method is answered by the middleware,
    Origin or not, with Django's empty `HttpResponse` (200, text/html); an allowed Origin gets
    Allow-Origin ("*" when all are allowed), and on OPTIONS the configured Allow-Headers,
    Allow-Methods and Max-Age; a disallowed one simply gets no CORS headers."""

    allow_headers: tuple[str, ...] = DJANGO_HEADERS
    allow_methods: tuple[str, ...] = DJANGO_METHODS
    max_age: int = 86400

    @property
    def always(self) -> dict[str, str]:
        return {"Vary": "origin"}

    def before(self, scope, method, origin, allowed, routed):
        if method != "OPTIONS" or header(scope, b"access-control-request-method") is None:
            return None
        headers = {"Vary": "origin"}
        if origin:
            headers.update(self.after(scope, method, origin, routed))
        return empty(200, headers, content_type=b"text/html; charset=utf-8")

    def _allowed(self, origin: str) -> bool:
        try:
            url = urlsplit(origin)
        except ValueError:
            return False
        for allowed in self.origins or ():
            if allowed == "null":
                if origin == "null":
                    return True
                continue
            own = urlsplit(allowed)
            if own.scheme == url.scheme and own.netloc == url.netloc:
                return True
        return False

    def after(self, scope, method, origin, routed):
        if not origin or (self.origins is not None and not self._allowed(origin)):
            return {}
        origin = _visible(origin)
        if origin is None:
            return {}
        headers = {"Access-Control-Allow-Origin": "*" if self.origins is None else origin}
        if method == "OPTIONS":
            headers["Access-Control-Allow-Headers"] = ", ".join(self.allow_headers)
            headers["Access-Control-Allow-Methods"] = ", ".join(self.allow_methods)
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return headers
