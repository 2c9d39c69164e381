"""`--data-dir DIR`: the sandbox kept across restarts.

    DIR/format.json          {"format": 1, "seed": 0, "fixtures": "<digest>", "writtenBy": "..."}
    DIR/lock                 held (flock) by the one server using DIR
    DIR/server.json          the mock clock (frozen instant or offset) and the faults
    DIR/tenants/<id>.json    one tenant: its credentials and each vendor part it has built

One file per tenant, written whole (a temporary file, fsync, rename, fsync of the directory): a
tenant on disk is always one state it had, never half of two. A vendor part a tenant never
built is its fixtures, which the same seed and fixtures rebuild exactly; format.json names both
and a start with others is refused.

Writes leave the request path: a call marks its tenant (`touched`), and at most every
FLUSH_DELAY the marked tenants are exported on the event loop (consistent, and cheap: the
exports copy) and handed to one writer thread, which encodes and writes each file whose bytes
changed. A tenant written to a thousand times a second reaches the disk a few times a second.
docs/fidelity.md, "A sandbox that survives restarts", says why files and not sqlite.
"""
from __future__ import annotations

import asyncio
import contextvars
import errno
import fcntl
import hashlib
import hmac
import logging
import os
import queue
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .http import dump
from .state import StateError, parse

if TYPE_CHECKING:
    from .clock import Clock
    from .faults import Faults
    from .tenancy import Tenant, Tenants
    from .vendor import Vendor

FORMAT = 1              # what this release writes and reads
FLUSH_DELAY = 0.2       # seconds between a change and its write, at most (a few writes a second)
SLICE = 0.01            # seconds of exports on the event loop per turn; the rest at the next
RETRY_EVERY = 1.0       # seconds between tries of a write that failed (a full disk, say)
TENANTS = "tenants"
QUARANTINE = "recovered"  # --data-dir-recover moves bad files here
SEAL = b"\n# sha256="     # each file ends with its content's digest: a file cut short, changed
                          # or not ours is told from ours without reading its state

log = logging.getLogger("mockserver")

# The tenants an admin call acted on (set by `note`), read by the server after the call.
_NOTED: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("noted", default=None)


def note(tenant_id: str) -> None:
    """An admin call acts on this tenant: its state is written after the call (when a data dir
    is kept)."""
    noted = _NOTED.get()
    if noted is not None:
        noted.add(tenant_id)


class DataDirError(Exception):
    """The data dir cannot be used: `str()` is one line naming the file and what is wrong."""


class DataDir:
    """A server's state on disk (see the module docstring)."""

    def __init__(self, path: str | Path, *, seed: int, fixtures_digest: str,
                 recover: bool = False) -> None:
        self.path = Path(path)
        self.seed, self.fixtures = seed, fixtures_digest
        self.recover = recover
        self.recovered: list[str] = []    # what --data-dir-recover moved aside, one line each
        self._lock_file: Any = None
        self._written: dict[str, bytes] = {}  # file name -> the bytes on disk
        self._dirty: set[str] = set()
        self._server_dirty = False
        self._pending: asyncio.Handle | None = None  # the timer, or the next slice
        self._queue: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._retry: dict[str, Any] = {}  # file (no suffix) -> its state, after a failed write
        self.failure: str | None = None   # the last write's failure, until one succeeds
        self.writes = 0                   # files written (tests and the bench read it)
        self._server: Any = None
        self.starts = 0                   # the starts before this one that the dir has seen

    # -- opening ---------------------------------------------------------------------------
    def open(self) -> None:
        """Create or check DIR and take its lock; DataDirError in one line otherwise."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / TENANTS).mkdir(exist_ok=True)
            self._lock_file = open(self.path / "lock", "a+")
        except OSError as exc:
            raise DataDirError(f"{self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            self._lock_file = None
            raise DataDirError(f"{self.path}: in use by another mockserver ({holder}); one "
                               "server per data dir") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"pid {os.getpid()}\n")
        self._lock_file.flush()
        try:
            self._check_format()
        except BaseException:
            self.close()  # a refused dir is left unlocked
            raise

    def _check_format(self) -> None:
        path = self.path / "format.json"
        mine = {"format": FORMAT, "seed": self.seed, "fixtures": self.fixtures,
                "writtenBy": _release()}
        if not path.exists():
            if any((self.path / TENANTS).iterdir()) or (self.path / "server.json").exists():
                self._bad(path, "missing, though the dir holds state")
            self._write_now(path, dump(mine))
            return
        doc = self._read_json(path)
        if doc is None:
            self._write_now(path, dump(mine))
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("format"), int):
            self._bad(path, "not a mockserver data dir's format file")
            return
        if doc["format"] != FORMAT:
            raise DataDirError(f"{path}: written by {doc.get('writtenBy', 'another release')} "
                               f"in data format {doc['format']}; this release "
                               f"({_release()}) reads format {FORMAT}")
        if doc.get("seed") != self.seed:
            raise DataDirError(f"{path}: written with --seed {doc.get('seed')}; start with "
                               "that seed, or use another data dir")
        if doc.get("fixtures") != self.fixtures:
            raise DataDirError(f"{path}: written with other fixtures (--fixtures); start with "
                               "those, or use another data dir")

    def _read_json(self, path: Path) -> Any:
        """A file's JSON; a bad one refuses the start, or is moved aside with --data-dir-recover
        (None then)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataDirError(f"{path}: cannot read it: {exc.strerror or exc}") from None
        content, seal, digest = raw.rpartition(SEAL)
        if not seal:
            self._bad(path, "not a file mockserver wrote (no digest at its end; truncated?)")
            return None
        if not hmac.compare_digest(hashlib.sha256(content).hexdigest().encode(),
                                   digest.strip()):
            self._bad(path, "its content does not match its digest (truncated or corrupt)")
            return None
        try:
            return parse(content)
        except StateError as exc:
            why = exc.details[0] if exc.details else exc.message
            self._bad(path, f"not valid JSON ({why})")
            return None

    def _bad(self, path: Path, why: str) -> None:
        line = f"{path}: {why}"
        if not self.recover:
            raise DataDirError(line + "; start with --data-dir-recover to move it aside and "
                               "go on without it")
        aside = self.path / QUARANTINE / f"{secrets.token_hex(4)}-{path.name}"
        aside.parent.mkdir(exist_ok=True)
        os.replace(path, aside)
        self.recovered.append(f"{line}: moved to {aside}")

    # -- loading ---------------------------------------------------------------------------
    def load(self, server: Any) -> None:
        """Every tenant, the clock and the faults, as they were written."""
        from .state import Importer

        self._server = server
        importer = Importer(server.vendors)
        state = self.path / "server.json"
        starts = None
        if state.exists():
            doc = self._read_json(state)
            if doc is not None:
                try:
                    starts = _restore_server(doc, server.clock, server.faults)
                except (KeyError, TypeError, ValueError) as exc:
                    self._bad(state, f"not a server state this release wrote ({exc})")
        files = sorted((self.path / TENANTS).glob("*.json"))
        for path in files:
            doc = self._read_json(path)
            if doc is None:
                continue
            try:
                _restore_tenant(doc, path.stem, server.tenants, server.vendors, importer)
            except (StateError, KeyError, TypeError, ValueError) as exc:
                details = getattr(exc, "details", None)
                why = details[0] if details else str(exc)
                self._bad(path, f"not a tenant this release wrote ({why[:200]})")
                continue
            self._written[path.name] = path.read_bytes().rpartition(SEAL)[0]
        for line in self.recovered:
            log.warning("mockserver --data-dir-recover: %s", line)
        # The ids a server mints (a connection's, a short code) follow the seed; a restart that
        # drew the seed's stream again would mint the ids its loaded tenants hold already (a
        # duplicate, and a tenant file the next start refuses). Each start draws its own stream.
        if starts is not None:
            self.starts = starts + 1
        elif self._written:  # tenants without the count (server.json moved aside): a new stream
            self.starts = secrets.randbits(48)
        if self.starts:
            ctx = next(iter(server.vendors.values())).ctx  # the one every vendor shares
            ctx.rng.seed(f"runtime:{self.seed}:start {self.starts}")
        # what a first start has that the dir has not (the default tenant, the clock) goes now
        self._server_dirty = True
        # queued for the drain alone: a writer thread taking the batch meanwhile would leave
        # the start's files unwritten when it returns (or write them twice at once)
        self._snapshot(thread=False, sliced=False)
        self._drain()

    # -- marking and writing -----------------------------------------------------------------
    def touched(self, tenant_id: str | None) -> None:
        """A call acted on this tenant (None: on the server: clock, faults, the tenant list)."""
        if tenant_id is None:
            self._server_dirty = True
        else:
            self._dirty.add(tenant_id)
        if self._pending is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a test's direct call): written at close
                return
            self._pending = loop.call_later(FLUSH_DELAY, self._due)

    def tracking(self) -> contextvars.Token:
        return _NOTED.set(set())

    def noted(self, token: contextvars.Token) -> set[str]:
        noted = _NOTED.get() or set()
        _NOTED.reset(token)
        return noted

    def _due(self) -> None:
        """The timer: a snapshot, unless the writer has yet to take the last one. Then the
        marks wait for the next tick: under a load the disk cannot keep up with, batches would
        pile up in the queue (memory, and a lag growing without end); waiting, each file is
        written once per batch the disk can take, the newest state each time."""
        if self._queue.empty():
            self._snapshot()
        else:
            self._pending = asyncio.get_running_loop().call_later(FLUSH_DELAY, self._due)

    def _snapshot(self, thread: bool = True, sliced: bool = True) -> None:
        """On the event loop: the marked tenants' state now, handed to the writer (`thread`
        False: left queued for the caller's `_drain`). Exports stop after SLICE seconds (unless
        not `sliced`) and go on at the loop's next turn, so a thousand marked tenants never hold the loop long;
        each tenant is still exported in one go (one state it had)."""
        server, dirty, self._dirty = self._server, self._dirty, set()
        jobs: list[tuple[str, Any]] = []
        if self._server_dirty:
            self._server_dirty = False
            jobs.append(("server", _server_doc(server.clock, server.faults, self.starts)))
            live = {t.id for t in server.tenants}
            on_disk = {n[:-5] for n in list(self._written)  # (a copy: the writer adds to it)
                       if n not in ("server.json", "format.json")}
            jobs += [(f"{TENANTS}/{tid}", None) for tid in on_disk - live]
            dirty |= live - on_disk
        self._export(sorted(dirty, reverse=True), jobs, thread, sliced)

    def _export(self, todo: list[str], jobs: list[tuple[str, Any]], thread: bool = True,
                sliced: bool = True) -> None:
        """`todo`'s tenants exported (popped from its end) for SLICE seconds; the rest at the
        loop's next turn."""
        self._pending = None
        deadline = time.perf_counter() + SLICE if sliced else None
        server = self._server
        while todo:
            tid = todo.pop()
            tenant = server.tenants.get(tid)
            jobs.append((f"{TENANTS}/{tid}",
                         None if tenant is None else _tenant_doc(tenant, server.vendors)))
            if deadline is not None and time.perf_counter() > deadline:
                break
        if jobs:
            self._queue.put(jobs)
            if thread:
                self._start_writer()
        if todo:
            self._pending = asyncio.get_running_loop().call_soon(self._export, todo, [])
        elif self._dirty or self._server_dirty:  # marked while the slices ran
            self._pending = asyncio.get_running_loop().call_later(FLUSH_DELAY, self._due)

    def _start_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                            name="mockserver-data-dir")
            self._writer.start()

    def _write_loop(self) -> None:
        """The writer thread: each batch as it comes; what failed, again every RETRY_EVERY."""
        while True:
            try:
                jobs = self._queue.get(timeout=RETRY_EVERY if self._retry else None)
            except queue.Empty:
                jobs = []
            if jobs is None:
                return
            self._write_batch(jobs)

    def _write_batch(self, jobs: list[tuple[str, Any]]) -> None:
        """Write (or remove, for None) each file whose bytes changed; a newer state of a file
        replaces one that failed before."""
        batch, self._retry = {**self._retry, **dict(jobs)}, {}
        for name, doc in batch.items():
            path = self.path / f"{name}.json"
            try:
                if doc is None:
                    path.unlink(missing_ok=True)
                    self._written.pop(path.name, None)
                    continue
                data = dump(doc)
                if self._written.get(path.name) == data:
                    continue
                self._write_now(path, data)
                self._written[path.name] = data
            except OSError as exc:
                self._retry[name] = doc
                self._failed(path, exc)
        if not self._retry and self.failure is not None:
            log.warning("mockserver --data-dir: writes to %s succeed again", self.path)
            self.failure = None

    def _failed(self, path: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            why = "the disk is full"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why = f"the dir is not writable ({exc.strerror})"
        first = self.failure is None
        self.failure = f"cannot write {path}: {why}"
        if first:  # once per burst: until every write succeeds again
            log.error("mockserver --data-dir: %s; the state lives on in memory and is "
                      "written once the dir takes it again", self.failure)

    def _write_now(self, path: Path, data: bytes) -> None:
        """`data` as `path`, whole or not at all: a temporary file, fsync, rename, fsync."""
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data + SEAL + hashlib.sha256(data).hexdigest().encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.writes += 1

    def _drain(self) -> None:
        """Write everything queued, here and now (no writer thread runs: start, close)."""
        while True:
            try:
                jobs = self._queue.get_nowait()
            except queue.Empty:
                break
            if jobs is not None:
                self._write_batch(jobs)
        if self._retry:
            self._write_batch([])

    def flush(self) -> None:
        """Write every change now, on this thread (a graceful stop; tests)."""
        if self._pending is not None:
            self._pending.cancel()
        self._server_dirty = True
        self._dirty.update(t.id for t in self._server.tenants)  # (a cancelled slice's too)
        self._snapshot(sliced=False)
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=30)
            self._writer = None
        self._drain()

    def close(self) -> None:
        """The last changes written, then the lock released."""
        if self._server is not None:
            self.flush()
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def health(self) -> dict[str, Any]:
        return {"dataDir": str(self.path), **({"degraded": self.failure}
                                              if self.failure is not None else {})}


# -- the documents ---------------------------------------------------------------------------
def _tenant_doc(tenant: "Tenant", vendors: dict[str, "Vendor"]) -> dict[str, Any]:
    """A tenant's credentials and the vendor parts it has built (the others are fixtures)."""
    return {"format": FORMAT, "tenant": tenant.id, "credentials": tenant.credentials,
            "vendors": {name: vendors[name].export_state(store, tenant)
                        for name, store in sorted(tenant.stores.items())}}


def _restore_tenant(doc: Any, stem: str, tenants: "Tenants", vendors: dict[str, "Vendor"],
                    importer: Any) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("tenant") != stem:
        raise ValueError("no tenant file of data format 1 for this name")
    parts = doc["vendors"]
    if not isinstance(parts, dict) or not set(parts) <= set(vendors):
        raise ValueError(f"unknown vendors {sorted(set(parts) - set(vendors))}")
    tenant = tenants.restore(stem, doc["credentials"])
    # The digest says the file is what this server wrote: each part is an export, so it is
    # restored without checking it against the schema again (which takes longer than loading).
    importer.commit(tenant, {name: vendors[name].import_state(part, tenant)
                             for name, part in parts.items()})


def _server_doc(clock: "Clock", faults: "Faults | None", starts: int) -> dict[str, Any]:
    return {"format": FORMAT, "clock": clock.saved(),
            "faults": faults.saved() if faults is not None else None, "starts": starts}


def _restore_server(doc: dict[str, Any], clock: "Clock", faults: "Faults | None") -> int:
    """The clock and the faults as `doc` says; the starts it counts."""
    if doc.get("format") != FORMAT:
        raise ValueError("another data format")
    starts = doc.get("starts", 0)
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 0:
        raise ValueError("the count of starts is no whole number")
    clock.restore(doc["clock"])
    if faults is not None and doc.get("faults") is not None:
        faults.restore(doc["faults"])
    return starts


def fixtures_digest(root: Path, vendors: Iterable[str]) -> str:
    """What the fixtures a data dir was written with are: a digest of their files."""
    h = hashlib.sha256()
    for name in sorted(vendors):
        base = root / name
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _release() -> str:
    try:
        from importlib.metadata import version

        return f"mockserver {version('mockserver')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "mockserver"
