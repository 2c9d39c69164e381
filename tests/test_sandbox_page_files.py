"""The sandbox page's own files (mockserver/admin/static/): found as package resources, inlined
verbatim, hashed for the CSP, and plain JavaScript a tool can check. No browser needed (the
page's behaviour is tests/test_sandbox_page.py's)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.resources import as_file, files
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMES = ("page.html", "page.css", "page.js")


def static(name: str) -> str:
    return (files("mockserver.admin") / "static" / name).read_text(encoding="utf-8")


def between(page: str, tag: str) -> str:
    (inner,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
    return inner


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_inlines_its_static_files_and_the_csp_hashes_exactly_those_bytes(client):
    for name in NAMES:
        assert (files("mockserver.admin") / "static" / name).is_file(), name
    r = client.get("/__admin/")
    page, csp = r.text, r.headers["content-security-policy"]
    style, script = between(page, "style"), between(page, "script")
    # Each tag's content is its file, on a line of its own.
    assert style == "\n" + static("page.css") and script == "\n" + static("page.js")
    assert f"style-src {csp_hash(style)};" in csp and f"script-src {csp_hash(script)};" in csp
    # The rest of the page is page.html with its placeholders filled in.
    skeleton = static("page.html")
    for piece in re.split(r"\$\w+", skeleton):
        assert piece in page
    assert "$" not in page.replace(script, "")


def test_an_installed_copy_finds_its_files_beside_the_package(tmp_path, client):
    """Not the work tree: a copy of the package alone (what a wheel installs), imported from
    elsewhere in a fresh interpreter, renders the page the server here serves."""
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "mockserver", site / "mockserver",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    probe = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
             "from mockserver.admin import page; "
             "print(json.dumps({'static': str(page.STATIC), 'csp': page.CSP, "
             "'page': page.render(json.loads(sys.argv[2]))}))")
    served = client.get("/__admin/")
    select = re.search(r'<select id="f-vendor"[^>]*>(.*?)</select>', served.text, re.S).group(1)
    vendors = [v for v in re.findall(r'<option value="([^"]*)">', select) if v]
    assert vendors
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-c", probe, str(site), json.dumps(vendors)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert Path(out["static"]).resolve() == (site / "mockserver" / "admin" / "static").resolve()
    assert static("page.js") in out["page"]
    assert out["page"] == served.text and out["csp"] == served.headers["content-security-policy"]


def test_the_script_parses_as_javascript():
    node = shutil.which("node")
    if node is None:
        why = "no `node` on PATH: the sandbox page's script goes unchecked"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why)  # CI must check it
        pytest.skip(why)
    with as_file(files("mockserver.admin") / "static" / "page.js") as script:
        proc = subprocess.run([node, "--check", str(script)], capture_output=True, text=True,
                              timeout=60)
    assert proc.returncode == 0, proc.stderr
