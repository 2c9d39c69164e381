"""The sandbox page `GET /__admin/`: live journal, entry detail, state summary, faults, clock,
reset and credentials. Server-rendered once per app (the vendors' names), plain JavaScript, no
build step and nothing loaded from elsewhere, so it works offline. The markup, style and script
are files in static/ (page.html, page.css, page.js); this module fills in the vendors, inlines
the style and script, and hashes what it inlined for the CSP.

Journal content is hostile (whatever a client sent), so the script builds every element from
text (`textContent`, never `innerHTML`), and a Content-Security-Policy that allows only this
page's own script and style (by hash) stops anything that would slip through anyway.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape
from importlib.resources import files
from string import Template
from typing import Iterable

from starlette.responses import HTMLResponse

STATIC = files(__package__) / "static"
STATUS_CODES = (101, 200, 201, 204, 302, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503)


def _inline(name: str) -> str:
    # Inlined after a line break, so <style> and <script> keep their own lines; the CSP hashes
    # exactly this text, which is what the page carries between the tags.
    return "\n" + (STATIC / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Read once at import: the page is the same for the whole process.
STYLE = _inline("page.css")
SCRIPT = _inline("page.js")
# $-placeholders: the script and style are substituted in, never scanned for them.
PAGE = Template((STATIC / "page.html").read_text(encoding="utf-8"))

# Only this page's own script and style run; connections go to this server only.
CSP = ("default-src 'none'; script-src " + _sha256(SCRIPT) + "; style-src " + _sha256(STYLE) +
       "; connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def render(vendors: Iterable[str]) -> str:
    """The page for these vendors (the journal's vendor filter)."""
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in vendors)
    statuses = "".join(f'<option value="{c}">{c}</option>' for c in STATUS_CODES)
    return PAGE.substitute(style=STYLE, script=SCRIPT, vendor_options=options,
                           status_options=statuses)


def page_response(html: str, status: int = 200) -> HTMLResponse:
    # The token may sit in the page's URL (?token=): no referrer carries it elsewhere, and no
    # cache keeps the page.
    return HTMLResponse(html, status, headers={
        "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
