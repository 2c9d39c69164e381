"""`serve --record-dir DIR`: what `serve --record` forwarded to the real API becomes fixtures the
mock loads (`--fixtures DIR`), so a user refreshes the mock from their own account.

`Recording.add` takes each exchange; the vendor's `fixtures.learn` takes from a 2xx read what its
fixture files can hold (catalogue items, connections, flows, people, campaign stats) into
DIR/<vendor>/, beside the fixtures DIR started from (a copy of the server's own). The helpers
below are what every vendor's `learn` shares: the answer checked against contracts/, the
redaction that makes a recording safe to commit, and atomic writes. docs/fidelity.md,
"Recorded fixtures", says what each vendor learns and how data is redacted.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..core.contracts import load as load_contracts

if TYPE_CHECKING:
    from ..core.probe import Exchange

LINE_MAX = 300          # characters of one problem line


class NotLearned(Exception):
    """An exchange a vendor's `learn` refuses (or learns only in part); the text says why in one
    line."""


class Recording:
    """Fixtures learned from recorded exchanges, written under `root`.

    On first use, each vendor folder missing from `root` is copied from the fixtures the server
    runs on (`--fixtures` or the bundled ones), so `root` is a whole fixtures directory before
    anything is learned and stays one after every `add`."""

    def __init__(self, root: Path | str, server: Any) -> None:
        self.root = Path(root)
        self.server = server
        self._lock = threading.Lock()   # one exchange at a time: each add reads, merges, writes
        self._ready = False

    def add(self, exchange: "Exchange") -> list[str]:
        """Learn what `exchange` shows; one line per problem (never raises for bad input).
        Non-2xx answers and writes are ignored without a line."""
        try:
            where = f"{exchange.vendor} {exchange.method} {exchange.path}"
        except Exception:  # noqa: BLE001 - not even an Exchange: still one line
            return ["an exchange that is no Exchange: not learned"]
        try:
            with self._lock:
                vendor = self.server.vendors.get(exchange.vendor)
                if vendor is None:
                    raise NotLearned(f"not learned: no vendor {exchange.vendor!r}")
                self._prepare()
                if not 200 <= exchange.answer.status < 300:
                    return []
                vendor.fixtures.learn(self.root, exchange)
            return []
        except NotLearned as exc:
            return [_line(f"{where}: {exc}")]
        except OSError as exc:
            return [_line(f"{where}: not learned: {exc.strerror or exc}"
                          f"{f' ({exc.filename})' if exc.filename else ''}")]
        except Exception as exc:  # noqa: BLE001 - what no vendor expected: one line, no traceback
            return [_line(f"{where}: not learned: {type(exc).__name__}: {exc}")]

    def _prepare(self) -> None:
        if self._ready:
            return
        source = next(iter(self.server.vendors.values())).ctx.fixtures_dir
        self.root.mkdir(parents=True, exist_ok=True)
        for name in self.server.vendors:
            target = self.root / name
            if target.exists():
                continue
            # Copied beside the target, then renamed into place: never half a vendor's folder.
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
            try:
                shutil.copytree(source / name, tmp, dirs_exist_ok=True)
                os.replace(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        self._ready = True


def _line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LINE_MAX else text[:LINE_MAX - 3] + "..."


# -- the answer, checked ------------------------------------------------------------------------
def answer_json(exchange: "Exchange") -> Any:
    """The answer's JSON body, valid for its contract in contracts/; NotLearned otherwise, naming
    the contract and its first error."""
    answer = exchange.answer
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError, TypeError):
        raise NotLearned("not learned: the answer is no JSON") from None
    contracts = load_contracts()
    name = contracts.response_schema(exchange.vendor, exchange.method, exchange.path,
                                     answer.status)
    if name is None:
        raise NotLearned(f"not learned: no contract in contracts/{exchange.vendor} for "
                         f"{exchange.method} {exchange.path} -> {answer.status}")
    error = next(iter(contracts.validator(exchange.vendor, name).iter_errors(body)), None)
    if error is not None:
        at = "/" + "/".join(map(str, error.absolute_path))
        raise NotLearned(f"not learned: the answer breaks contracts/{exchange.vendor}/{name} "
                         f"at {at}: {error.message[:160]}")
    return body


# -- fixture files ------------------------------------------------------------------------------
def read_fixture(path: Path) -> dict[str, Any]:
    """A fixture file's JSON object; NotLearned (one line) when it is missing or corrupt."""
    where = "/".join(path.parts[-2:])
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotLearned(f"not learned: {where} is missing from the recording's folder") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotLearned(f"not learned: {where} is no JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise NotLearned(f"not learned: {where} is not a fixture file (no JSON object)")
    return doc


def recorded_list(doc: dict[str, Any], where: str, key: str = "recorded") -> list[Any]:
    """`doc[key]`, the list a file's recorded items are kept in (made when absent)."""
    items = doc.setdefault(key, [])
    if not isinstance(items, list):
        raise NotLearned(f"not learned: {where}'s {key!r} is no list")
    return items


def upsert(items: list[Any], item: dict[str, Any], same: Callable[[Any], bool]) -> bool:
    """Put `item` in place of the first entry `same` picks, or at the end; True on a change."""
    for i, old in enumerate(items):
        if isinstance(old, dict) and same(old):
            if old == item:
                return False
            items[i] = item
            return True
    items.append(item)
    return True


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a temporary file in the same folder, renamed over `path`, so a crash
    leaves the old file or the new one, never half of one."""
    text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def route(pattern: str, path: str, ignore_case: bool = False) -> re.Match[str] | None:
    """`path` against a route pattern, with an optional trailing slash; repeated slashes count
    as one (the recorded path is the client's, which every one of these frameworks tolerates)."""
    path = re.sub("/{2,}", "/", path)
    return re.fullmatch(pattern + "/?", path, re.IGNORECASE if ignore_case else 0)


# -- redaction ----------------------------------------------------------------------------------
# Key names (lower case, letters and digits only) whose text values are credentials ...
_SECRET_ENDS = ("token", "secret", "password", "passwd", "passphrase", "apikey", "appkey",
                "privatekey", "signature", "credential", "credentials", "cookie", "sessionid",
                "authorization", "otp", "cvv", "cvc", "ssn")
_SECRET_KEYS = frozenset({"code", "authcode", "verificationcode", "shortcode", "hash", "pin", "key",
                          "cardnumber", "accountnumber", "iban"})
# ... or personal data.
_EMAIL_ENDS = ("email", "emailaddress")
_PHONE_ENDS = ("phone", "phonenumber", "mobile", "fax")
_ADDRESS_ENDS = ("address", "street", "streetaddress", "addressline1", "addressline2",
                 "zipcode", "postalcode", "postcode", "zip", "city")
_NAME_KEYS = frozenset({"firstname", "lastname", "fullname", "middlename", "displayname",
                        "nickname", "username", "givenname", "familyname", "surname",
                        "contactname", "customername", "personname", "ownername",
                        "cardholdername", "holdername"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_STAND_IN_EMAIL = re.compile(r"person-[0-9a-f]{10}@example\.com")
_PHONE = re.compile(r"(?<![\w.+])(?:\+\d[\d ().-]{6,}\d|\(\d{3}\) ?\d{3}[-. ]\d{4}"
                    r"|\d{3}[-. ]\d{3}[-. ]\d{4})(?![\w.])")
_STAND_IN_PHONE = re.compile(r"\+1-555-01\d\d")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_KNOWN_TOKENS = re.compile(r"\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"
                           r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}"
                           r"|AKIA[0-9A-Z]{16})\b")
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}")
_SECRET_PARAM = re.compile(r"(?i)([?&#](?:[a-z_-]*token|[a-z_-]*secret|sig|signature|key|"
                           r"api_?key|code|password|x-amz-signature|x-amz-credential)=)[^&#\s\"']+")
REDACTED = "redacted"


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _kind(key: str, loose: bool) -> str | None:
    k = _norm(key)
    if k in _SECRET_KEYS or k.endswith(_SECRET_ENDS):
        return "secret"
    if k.endswith(_EMAIL_ENDS):
        return "email"
    if k.endswith(_PHONE_ENDS):
        return "phone"
    if k.endswith(_ADDRESS_ENDS):
        return "address"
    if k in _NAME_KEYS or (loose and k.endswith("name")):
        return "name"
    return None


def scrub(value: Any, loose: bool = False) -> Any:
    """`value` (JSON) with credentials and personal data replaced: a text under a key that names
    a credential becomes "redacted"; under a key that names an email address, a phone number, a
    postal address or a person's name, its deterministic stand-in; in any other text, email
    addresses, phone numbers, JWTs, well-known API key shapes, `Bearer ...` values and secret
    URL parameters are replaced where they occur. Only texts and numbers directly under such a
    key are replaced (a JSON Schema's `"email": {"type": "string"}` stays a schema). `loose`:
    a free-form object of an account (metadata), where any key ending in "name" is taken for a
    person's."""
    if isinstance(value, dict):
        return {k: _scalar(v, _kind(k, loose)) if not isinstance(v, (dict, list))
                else scrub(v, loose) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, loose) for v in value]
    return _scalar(value, None)


def _scalar(value: Any, kind: str | None) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return 0 if kind == "secret" else value
    if not isinstance(value, str) or not value:
        return value
    if kind == "secret":
        return REDACTED
    if kind == "email":
        return stand_in_email(value)
    if kind == "phone":
        return stand_in_phone(value)
    if kind == "address":
        return stand_in_address(value)
    if kind == "name":
        return stand_in_name(value)
    return scrub_text(value)


def scrub_text(text: str) -> str:
    """Email addresses, phone numbers and token shapes inside a free text, replaced."""
    text = _JWT.sub(REDACTED, text)
    text = _KNOWN_TOKENS.sub(REDACTED, text)
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _EMAIL.sub(lambda m: stand_in_email(m.group(0)), text)
    return _PHONE.sub(lambda m: stand_in_phone(m.group(0)), text)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"mockserver-recording:{kind}:{value}".encode()).hexdigest()


def stand_in_email(value: str) -> str:
    """The same address always gives the same `person-<hex>@example.com` (a stand-in stays)."""
    value = value.strip()
    if _STAND_IN_EMAIL.fullmatch(value):
        return value
    return f"person-{_digest('email', value.lower())[:10]}@example.com"


def stand_in_phone(value: str) -> str:
    """A number of the fictional 555-01xx range, the same for the same digits."""
    if _STAND_IN_PHONE.fullmatch(value.strip()):
        return value.strip()
    digits = re.sub(r"\D", "", value)
    return f"+1-555-01{int(_digest('phone', digits)[:8], 16) % 100:02d}"


_faker: Any = None
_faker_lock = threading.Lock()  # seeding and drawing are one step: recordings may run in threads


def _fake(kind: str, value: str, draw: Callable[[Any], str]) -> str:
    global _faker
    with _faker_lock:
        if _faker is None:
            from faker import Faker
            _faker = Faker("en_US")
        _faker.seed_instance(int(_digest(kind, value)[:16], 16))
        return draw(_faker)


def stand_in_name(value: str) -> str:
    """A faker name seeded from the name itself: the same person, the same stand-in."""
    return _fake("name", value.strip(), lambda f: f"{f.first_name()} {f.last_name()}")


def stand_in_address(value: str) -> str:
    return _fake("address", value.strip(), lambda f: f.street_address())
