"""`serve --tls`: HTTPS for the vendors' real hostnames, from a local CA (trustme).

The CA is made at start-up, or kept in `--tls-dir DIR` (ca.pem, ca-key.pem) so clients trust it
once; the server certificate is issued fresh at every start from that CA and covers every vendor
host (README.md's vendor base URLs) plus localhost, 127.0.0.1 and ::1. Clients fetch the CA at `/__admin/ca.pem`.
A CLI concern: vendor code and the app never see any of this but the CA's PEM.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    import trustme

    from .core.vendor import Vendor

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"


def hostnames(vendors: Iterable["Vendor"]) -> list[str]:
    """What the server certificate covers: every vendor host, then the local names."""
    names: list[str] = []
    for vendor in vendors:
        names.extend(h for h in vendor.hosts if h not in names)
    return names + [n for n in LOCAL_NAMES if n not in names]


def load_ca(tls_dir: str | Path | None) -> "trustme.CA":
    """A fresh CA, or the one kept in `tls_dir` (made and written there on first use)."""
    import trustme

    if tls_dir is None:
        return trustme.CA(organization_name="mockserver sandbox")
    folder = Path(tls_dir)
    cert, key = folder / CA_FILE, folder / CA_KEY_FILE
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="mockserver sandbox")
    folder.mkdir(parents=True, exist_ok=True)
    # The key first and private: a half-written pair is never mistaken for a usable one.
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(ca.private_key_pem.bytes())
    cert.write_bytes(ca.cert_pem.bytes())
    return ca


def issue(ca: "trustme.CA", names: list[str]) -> "trustme.LeafCert":
    # trustme's fixed validity (2000-3000) on purpose: neither the mock clock nor a skewed
    # container clock can make it expire, and certificates dated before July 2019 are exempt
    # from Apple's 825-day limit.
    return ca.issue_cert(*names, common_name=names[0], organization_name="mockserver sandbox")


@contextmanager
def cert_file(leaf: "trustme.LeafCert") -> Iterator[str]:
    """The key and chain in one temporary PEM file, for uvicorn's `ssl_certfile`; removed on exit
    (uvicorn reads it once, when its config loads)."""
    with leaf.private_key_and_cert_chain_pem.tempfile() as path:
        yield path
