"""`--data-dir DIR`: the sandbox kept across restarts.

    DIR/format.json          {"format": 1, "seed": 0, "fixtures": "<digest>", "writtenBy": "..."}
    DIR/lock                 held (flock) by the one server using DIR
    DIR/server.json          the mock clock (frozen instant or offset), the faults, the starts
    DIR/tenants/<id>.json    one tenant: a head line (its credentials, the vendor parts it has
                             built and what each claims of the shared state), then a line per
                             part: the vendor's export

Each file is written whole (a temporary file, fsync, rename, fsync of the directory) and ends
with its content's digest: a tenant on disk is always one state it had, never half of two, and
a file cut short, changed or not ours is told at start. A vendor part a tenant never built is
its fixtures, which the same seed and fixtures rebuild exactly; format.json names both and a
start with others is refused.

A start reads each file and checks its digest, but parses only the head: a part is parsed and
restored when the tenant first calls that vendor (`Stores.pending`), so a thousand tenants load
in a fraction of a second. What a part claims of the shared state (the highest campaign id) is
in the head, so no id is minted twice meanwhile.

Writes leave the request path: a call marks its tenant's part (`touched`), and at most every
FLUSH_DELAY the marked parts are exported on the event loop (consistent, and cheap: the exports
copy), a SLICE at a time, and handed to one writer thread. It encodes each part (orjson),
reuses the bytes of the parts nobody marked, and writes each file whose bytes changed; the next
round waits in proportion to what this one cost, so the writing takes a bounded share of the
CPU. docs/fidelity.md, "A sandbox that survives
restarts", says why files and not sqlite.
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
import re
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import orjson

from .http import dump
from .state import StateError, parse

if TYPE_CHECKING:
    from .clock import Clock
    from .faults import Faults
    from .tenancy import Tenant
    from .vendor import Vendor

FORMAT = 1              # what this release writes and reads
FLUSH_DELAY = 0.2       # seconds between a change and its write, at least (a few writes a second)
PACE = 19.0             # the next round waits this many times what the last one cost (the writing
                        # takes at most a twentieth of the CPU) ...
MAX_DELAY = 0.75        # ... but no longer than this: a write answered a second ago is on disk
SLICE = 0.01            # seconds of exports on the event loop per turn; the rest at the next
STEP_DEPTH = 3          # _dump_steps goes this deep into a part's objects for its lists ...
STEP = 64               # ... and encodes them STEP items a call
RETRY_EVERY = 1.0       # seconds between tries of a write that failed (a full disk, say)
TENANTS = "tenants"
QUARANTINE = "recovered"  # --data-dir-recover moves bad files here
SEAL = b"\n# sha256="     # each file ends with its content's digest: a file cut short, changed
                          # or not ours is told from ours without reading its state

log = logging.getLogger("mockserver")

# What restoring a sealed document that is not one of ours raises (the restore code trusts the
# seal and skips the schema, so a wrong shape fails wherever it is first used): one line, the
# file refused or moved aside, never a traceback.
UNFIT = (LookupError, TypeError, ValueError, AttributeError, RecursionError)

# The ids a tenant file may be named by: the ones `Tenants.create` mints, and the default's. Any
# other (a dot, the scope separator of tokens; a space; a slash) is no tenant this release wrote.
_TENANT_ID = re.compile(r"default|t_[0-9a-f]{16}")

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
        self._server_bytes: bytes | None = None  # server.json's content on disk
        # the writer's: tenant id -> the head and each part's bytes on disk
        self._files: dict[str, tuple[bytes, dict[str, bytes]]] = {}
        self._dirty: dict[str, set[str] | None] = {}  # tenant -> parts marked (None: all)
        self._todo: list[tuple[str, set[str] | None]] = []  # marks the next slice exports
        self._server_dirty = False
        self._pending: asyncio.Handle | None = None  # the timer, or the next slice
        self._queue: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._retry: dict[str, Any] = {}  # job name -> its state, after a failed write
        self.cost = 0.0                   # seconds of CPU the last round took: paces the next
        self._export_cost = 0.0           # the loop's share of the round being written
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
            raise DataDirError(f"{_shown(self.path)}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            self._lock_file = None
            raise DataDirError(f"{_shown(self.path)}: in use by another mockserver ({holder}); one "
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
                if not self.recover:
                    raise DataDirError(f"{_shown(path)}: missing, though the dir holds state; "
                                       "start with --data-dir-recover to write it anew for "
                                       "this start's --seed and fixtures")
                # nothing to move aside: each file still checks its own format as it loads
                self.recovered.append(f"{_shown(path)}: missing, though the dir holds state: "
                                      f"written anew for --seed {self.seed} and these fixtures")
            self._write_now(path, dump(mine))
            return
        doc = self._read_json(path)
        if doc is None:
            self._write_now(path, dump(mine))
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("format"), int) \
                or isinstance(doc["format"], bool):
            self._bad(path, "not a mockserver data dir's format file")
            self._write_now(path, dump(mine))  # moved aside (--data-dir-recover): a new one
            return
        if doc["format"] != FORMAT:
            by = doc.get("writtenBy", "another release")
            raise DataDirError(f"{_shown(path)}: written by {by} "
                               f"in data format {doc['format']}; this release "
                               f"({_release()}) reads format {FORMAT}")
        if doc.get("seed") != self.seed:
            raise DataDirError(f"{_shown(path)}: written with --seed {doc.get('seed')}; start with "
                               "that seed, or use another data dir")
        if doc.get("fixtures") != self.fixtures:
            raise DataDirError(f"{_shown(path)}: written with other fixtures (--fixtures); "
                               "start with those, or use another data dir")

    def _read_sealed(self, path: Path) -> bytes | None:
        """A file's content, its digest checked; a bad one refuses the start, or is moved aside
        with --data-dir-recover (None then)."""
        try:
            raw = path.read_bytes()
        except IsADirectoryError:
            self._bad(path, "a directory, not a file mockserver wrote")
            return None
        except OSError as exc:
            raise DataDirError(f"{_shown(path)}: cannot read it: {exc.strerror or exc}") from None
        content, seal, digest = raw.rpartition(SEAL)
        if not seal:
            self._bad(path, "not a file mockserver wrote (no digest at its end; truncated?)")
            return None
        if not hmac.compare_digest(hashlib.sha256(content).hexdigest().encode(),
                                   digest.strip()):
            self._bad(path, "its content does not match its digest (truncated or corrupt)")
            return None
        return content

    def _read_json(self, path: Path) -> Any:
        """A file's JSON, as `_read_sealed` (None: moved aside)."""
        content = self._read_sealed(path)
        if content is None:
            return None
        try:
            return parse(content)
        except StateError as exc:
            why = exc.details[0] if exc.details else exc.message
            self._bad(path, f"not valid JSON ({why})")
            return None

    def _bad(self, path: Path, why: str) -> None:
        line = f"{_shown(path)}: {why}"
        if not self.recover:
            raise DataDirError(line + "; start with --data-dir-recover to move it aside and "
                               "go on without it")
        aside = self.path / QUARANTINE / f"{secrets.token_hex(4)}-{path.name}"
        aside.parent.mkdir(exist_ok=True)
        os.replace(path, aside)
        self.recovered.append(f"{line}: moved to {_shown(aside)}")

    # -- loading ---------------------------------------------------------------------------
    def load(self, server: Any) -> None:
        """Every tenant (its parts read when first called), the clock and the faults, as they
        were written."""
        state = self.path / "server.json"
        starts = None
        if state.exists():
            doc = self._read_json(state)
            if doc is not None:
                try:
                    starts = _restore_server(doc, server.clock, server.faults)
                except UNFIT as exc:
                    self._bad(state, f"not a server state this release wrote ({exc})")
        files = sorted((self.path / TENANTS).glob("*.json"))
        if len(files) > server.tenants.limit:
            raise DataDirError(f"{_shown(self.path / TENANTS)}: {len(files)} tenants, more "
                               f"than this server keeps (--max-tenants {server.tenants.limit})")
        for path in files:
            content = self._read_sealed(path)
            if content is None:
                continue
            try:
                head, parts = _split(content, path.stem, server.vendors)
                for name in parts:  # (a bad claim refuses the file: checked first)
                    server.vendors[name].claim_state(head["claims"][name])
                tenant = server.tenants.restore(path.stem, head["credentials"])
            except _NotJSON as exc:
                self._bad(path, str(exc))
                continue
            except UNFIT as exc:
                details = getattr(exc, "details", None)
                why = details[0] if details else str(exc)
                self._bad(path, f"not a tenant this release wrote ({why[:200]})")
                continue
            for name, raw in parts.items():
                tenant.stores.pending[name] = _Kept(self, server.vendors[name], tenant, raw,
                                                    head["claims"][name])
            self._files[tenant.id] = (content.partition(b"\n")[0], parts)
        for line in self.recovered:
            log.warning("mockserver --data-dir-recover: %s", line)
        # The ids a server mints (a connection's, a short code) follow the seed; a restart that
        # drew the seed's stream again would mint the ids its loaded tenants hold already (a
        # duplicate, and a tenant file the next start refuses). Each start draws its own stream.
        if starts is not None:
            self.starts = starts + 1
        elif self._files:  # tenants without the count (server.json moved aside): a new stream
            self.starts = secrets.randbits(48)
        if self.starts:
            ctx = next(iter(server.vendors.values())).ctx  # the one every vendor shares
            ctx.rng.seed(f"runtime:{self.seed}:start {self.starts}")
        # Only now: a refused start must write nothing (close() flushes what it knows).
        self._server = server
        # what a first start has that the dir has not (the default tenant, the clock) goes now,
        # queued for the drain alone: a writer thread taking the batch meanwhile would leave
        # the start's files unwritten when it returns (or write them twice at once)
        self._server_dirty = True
        self._snapshot(thread=False, sliced=False)
        self._drain()

    def unfit(self, tenant: "Tenant", vendor: str, raw: bytes, why: str) -> None:
        """A kept part that does not restore (a file sealed by hand, or a setting since made
        smaller than the part, --max-sessions say): its bytes aside, one line; the tenant goes
        on from the fixtures for that vendor."""
        aside = self.path / QUARANTINE / f"{secrets.token_hex(4)}-{tenant.id}-{vendor}.json"
        try:
            aside.parent.mkdir(exist_ok=True)
            self._write_now(aside, raw)
            where = f"its bytes moved to {_shown(aside)}"
        except OSError as exc:
            where = f"its bytes could not be kept aside ({exc.strerror or exc})"
        log.error("mockserver --data-dir: %s: the %s part does not restore (%s); %s, the tenant "
                  "goes on from the fixtures for %s",
                  _shown(self.path / TENANTS / f"{tenant.id}.json"), vendor, why[:200], where,
                  vendor)
        self.touched(tenant.id, vendor)  # the file then holds what the tenant has

    # -- marking and writing -----------------------------------------------------------------
    def touched(self, tenant_id: str | None, vendor: str | None = None) -> None:
        """A call acted on this tenant's `vendor` part (None: on any part; a tenant None: on
        the server: clock, faults, the tenant list)."""
        if tenant_id is None:
            self._server_dirty = True
        elif vendor is None:
            self._dirty[tenant_id] = None
        else:
            marked = self._dirty.setdefault(tenant_id, set())
            if marked is not None:
                marked.add(vendor)
        if self._pending is None:
            self._schedule()

    def _schedule(self) -> None:
        """The next round, FLUSH_DELAY or PACE times the last one's cost from now."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test's direct call, a close): written at close
            return
        delay = min(MAX_DELAY, max(FLUSH_DELAY, PACE * self.cost))
        self._pending = loop.call_later(delay, self._due)

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
            self._schedule()

    def _snapshot(self, thread: bool = True, sliced: bool = True) -> None:
        """On the event loop: the marked parts' state now, handed to the writer (`thread`
        False: left queued for the caller's `_drain`). Exports stop after SLICE seconds (unless
        not `sliced`) and go on at the loop's next turn, so a thousand marked tenants never
        hold the loop long; each tenant is still exported in one go (one state it had)."""
        server, dirty, self._dirty = self._server, self._dirty, {}
        jobs: list[tuple[str, Any]] = []
        if self._server_dirty:
            self._server_dirty = False
            jobs.append(("server", _server_doc(server.clock, server.faults, self.starts)))
            live = {t.id for t in server.tenants}
            on_disk = set(self._files)  # (copied in one step: the writer changes it)
            jobs += [(f"{TENANTS}/{tid}", None) for tid in on_disk - live]
            for tid in live - on_disk:
                dirty[tid] = None
        for tid, marked in self._todo:  # a slice's marks not exported yet: with the new ones
            if tid not in dirty or marked is None:
                dirty[tid] = marked
            elif dirty[tid] is not None:
                dirty[tid] |= marked  # type: ignore[operator]
        self._todo = sorted(dirty.items(), reverse=True)
        self._export(jobs, thread, sliced)

    def _export(self, jobs: list[tuple[str, Any]], thread: bool = True,
                sliced: bool = True) -> None:
        """The tenants of `_todo` exported (from its end) for SLICE seconds; the rest at the
        loop's next turn."""
        self._pending = None
        started = time.perf_counter()
        deadline = started + SLICE if sliced else None
        server = self._server
        while self._todo:
            tid, marked = self._todo.pop()
            tenant = server.tenants.get(tid)
            jobs.append((f"{TENANTS}/{tid}",
                         None if tenant is None else _tenant_job(tenant, marked, server.vendors)))
            if deadline is not None and time.perf_counter() > deadline:
                break
        self._export_cost += time.perf_counter() - started
        if jobs:
            self._queue.put(jobs)
            if thread:
                self._start_writer()
        if self._todo:
            self._pending = asyncio.get_running_loop().call_soon(self._export, [])
        elif self._dirty or self._server_dirty:  # marked while the slices ran
            self._schedule()

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
        replaces one that failed before (part by part: a part the newer one left unmarked keeps
        the older's)."""
        started = time.thread_time()
        batch = self._retry
        self._retry = {}
        for name, job in jobs:
            older = batch.get(name)
            if isinstance(job, _Job) and isinstance(older, _Job):
                job = older.merged(job)
            batch[name] = job
        dirs: dict[Path, None] = {}
        for name, job in batch.items():
            path = self.path / f"{name}.json"
            try:
                if job is None:
                    path.unlink(missing_ok=True)
                    self._files.pop(path.stem, None)
                elif isinstance(job, _Job):
                    head, parts = job.encoded(self._files.get(path.stem))
                    if self._files.get(path.stem) == (head, parts):
                        continue
                    self._put(path, b"\n".join([head, *parts.values()]))
                    self._files[path.stem] = (head, parts)
                else:
                    data = dump(job)
                    if self._server_bytes == data:
                        continue
                    self._put(path, data)
                    self._server_bytes = data
                dirs[path.parent] = None
            except OSError as exc:
                self._retry[name] = job
                self._failed(path, exc)
        for parent in dirs:  # once for every file of the batch renamed into it
            try:
                _sync_dir(parent)
            except OSError as exc:
                self._failed(parent, exc)
        self.cost, self._export_cost = time.thread_time() - started + self._export_cost, 0.0
        if not self._retry and self.failure is not None:
            log.warning("mockserver --data-dir: writes to %s succeed again", _shown(self.path))
            self.failure = None

    def _failed(self, path: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            why = "the disk is full"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why = f"the dir is not writable ({exc.strerror})"
        first = self.failure is None
        self.failure = f"cannot write {_shown(path)}: {why}"
        if first:  # once per burst: until every write succeeds again
            log.error("mockserver --data-dir: %s; the state lives on in memory and is "
                      "written once the dir takes it again", self.failure)

    def _write_now(self, path: Path, data: bytes) -> None:
        """`data` as `path`, whole or not at all, and durable: `_put`, then its dir synced."""
        self._put(path, data)
        _sync_dir(path.parent)

    def _put(self, path: Path, data: bytes) -> None:
        """`data` as `path`, whole or not at all: a temporary file, fsync, rename. Durable
        once the dir is synced (a batch syncs it once for all its files)."""
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data + SEAL + hashlib.sha256(data).hexdigest().encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
            self._pending.cancel()  # (a slice's marks stay in _todo, taken up here)
        self._server_dirty = True
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
        return {"dataDir": _shown(self.path), **({"degraded": self.failure}
                                              if self.failure is not None else {})}


# -- the documents ---------------------------------------------------------------------------
def _shown(path: Path) -> str:
    """`path` as a line shows it: bytes of a name that are no UTF-8 as \\x escapes (a log line
    or a pipe to a test runner takes no lone surrogates)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Job:
    """One tenant's file to write: its credentials, and each part it has built as an export to
    encode, as the bytes kept from disk (a part not read since the start), or UNCHANGED (no call
    marked it: the bytes on disk)."""

    __slots__ = ("tenant", "credentials", "parts", "claims")

    def __init__(self, tenant: str, credentials: dict[str, Any], parts: dict[str, Any],
                 claims: dict[str, Any]) -> None:
        self.tenant, self.credentials, self.parts, self.claims = tenant, credentials, parts, claims

    def merged(self, newer: "_Job") -> "_Job":
        """`newer`, its unchanged parts as this older job had them (a failed write's)."""
        parts: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        for name, part in newer.parts.items():
            job = self if part is UNCHANGED and name in self.parts else newer
            parts[name] = job.parts[name]
            if name in job.claims:
                claims[name] = job.claims[name]
        return _Job(newer.tenant, newer.credentials, parts, claims)

    def encoded(self, on_disk: tuple[bytes, dict[str, bytes]] | None
                ) -> tuple[bytes, dict[str, bytes]]:
        """In the writer thread: the head line and each part's line."""
        kept_head = _parse_head(on_disk[0]) if on_disk else None
        parts: dict[str, bytes] = {}
        claims: dict[str, Any] = {}
        for name, part in self.parts.items():
            if part is UNCHANGED:
                if on_disk is None or name not in on_disk[1]:
                    continue  # built and never changed: the fixtures, which need no line
                parts[name] = on_disk[1][name]
                claims[name] = kept_head["claims"][name]
            else:
                parts[name] = part if isinstance(part, bytes) else _encode(part)
                claims[name] = self.claims.get(name)
        head = dump({"format": FORMAT, "tenant": self.tenant, "credentials": self.credentials,
                     "vendors": list(parts), "claims": claims})
        return head, parts


UNCHANGED = object()


def _tenant_job(tenant: "Tenant", marked: set[str] | None, vendors: dict[str, "Vendor"]) -> _Job:
    """On the loop: what the writer needs of `tenant`, its `marked` parts exported (None: all
    it has built)."""
    parts: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    pending = getattr(tenant.stores, "pending", {})
    for name in sorted(set(tenant.stores) | set(pending)):
        if name in tenant.stores:
            store = tenant.stores[name]
            if marked is None or name in marked:
                parts[name] = vendors[name].export_state(store, tenant)
                claims[name] = vendors[name].state_claims(store)
            else:
                parts[name] = UNCHANGED
        else:
            kept = pending[name]
            parts[name] = kept.raw if isinstance(kept, _Kept) else UNCHANGED
            claims[name] = getattr(kept, "claims", None)
    return _Job(tenant.id, {n: dict(c) for n, c in tenant.credentials.items()}, parts, claims)


class _Kept:
    """A part as its file holds it, restored when the tenant first reads that vendor's store."""

    __slots__ = ("data", "vendor", "tenant", "raw", "claims")

    def __init__(self, data: DataDir, vendor: "Vendor", tenant: "Tenant", raw: bytes,
                 claims: Any) -> None:
        self.data, self.vendor, self.tenant, self.raw = data, vendor, tenant, raw
        self.claims = claims

    def __call__(self) -> Any:
        # The digest says the file is what this server wrote: the part is an export, so it is
        # restored without checking it against the schema again (slower than restoring it).
        try:
            store = self.vendor.import_state(parse(self.raw), self.tenant)
        except UNFIT as exc:
            details = getattr(exc, "details", None)
            self.data.unfit(self.tenant, self.vendor.name, self.raw,
                            details[0] if details else str(exc))
            return self.vendor.new_store()
        self.vendor.adopt_state(store)
        return store


def _split(content: bytes, stem: str, vendors: dict[str, "Vendor"]
           ) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A tenant file's head (checked) and its parts' bytes (read later)."""
    if not _TENANT_ID.fullmatch(stem):
        raise ValueError("its name is no tenant id")
    lines = content.split(b"\n")
    head = _parse_head(lines[0])
    if not isinstance(head, dict) or head.get("format") != FORMAT or head.get("tenant") != stem:
        raise ValueError("no tenant file of data format 1 for this name")
    names, claims = head["vendors"], head["claims"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
            or len(set(names)) != len(names) or not set(names) <= set(vendors):
        raise ValueError(f"not a list of the vendors served: {str(names)[:100]}")
    if not isinstance(claims, dict) or set(claims) != set(names):
        raise ValueError("claims not of its vendors")
    if len(lines) != 1 + len(names):
        raise ValueError(f"{len(lines) - 1} parts for {len(names)} vendors")
    return head, dict(zip(names, lines[1:]))


class _NotJSON(ValueError):
    """A tenant file's head line is no JSON: `str()` says why."""


def _parse_head(line: bytes) -> Any:
    try:
        return parse(line)
    except StateError as exc:
        raise _NotJSON(f"not valid JSON ({exc.details[0] if exc.details else exc.message})"
                       ) from None


def _encode(part: Any) -> bytes:
    """A part as JSON that `parse` reads back to equal values: orjson's, ten times as fast as
    json's (75 ms for 10,000 campaigns; the writer's cost paces the rounds). What orjson does not
    take (an int past 64 bits, a lone surrogate, a key that is no string) goes through `dump`,
    a few records a call, so the event loop runs between them."""
    try:
        return orjson.dumps(part)
    except (TypeError, orjson.JSONEncodeError):
        return _dump_steps(part)


def _dump_steps(obj: Any, depth: int = STEP_DEPTH) -> bytes:
    """`dump(obj)`, byte for byte, in short calls of the C encoder (STEP items each) instead of
    one, which would hold the interpreter for a part's whole length."""
    if depth and isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        return b"{" + b",".join(dump(k) + b":" + _dump_steps(v, depth - 1)
                                for k, v in obj.items()) + b"}"
    if isinstance(obj, list) and len(obj) > STEP:
        return b"[" + b",".join(dump(obj[i:i + STEP])[1:-1]
                                for i in range(0, len(obj), STEP)) + b"]"
    return dump(obj)


def _server_doc(clock: "Clock", faults: "Faults | None", starts: int) -> dict[str, Any]:
    return {"format": FORMAT, "clock": clock.saved(),
            "faults": faults.saved() if faults is not None else None, "starts": starts}


def _restore_server(doc: dict[str, Any], clock: "Clock", faults: "Faults | None") -> int:
    """The clock and the faults as `doc` says; the starts it counts."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("another data format")
    starts = doc.get("starts", 0)
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 0:
        raise ValueError("the count of starts is no whole number")
    before = clock.saved(), faults.saved() if faults is not None else None
    try:
        clock.restore(doc["clock"])
        if faults is not None and doc.get("faults") is not None:
            faults.restore(doc["faults"])
    except BaseException:  # a file refused or moved aside changes neither
        clock.restore(before[0])
        if faults is not None:
            faults.restore(before[1])
        raise
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
