"""scripts/py313 (make test-py313): the one thing it must never do, whatever state a killed run
left behind, is delete the checkout that a stale root still has bind-mounted in it.

Hermetic: the script runs from a scratch copy with stand-ins for `id`, `findmnt` and `umount`
(a mount that will not go away), so nothing is mounted, built or downloaded.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def test_a_stale_root_with_something_still_mounted_in_it_is_not_removed(tmp_path):
    work, stubs = tmp_path / "work", tmp_path / "bin"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "py313", work / "scripts" / "py313")
    stale = work / ".cache" / "py313-0123456789abcdef"  # an older key's root
    (stale / "src").mkdir(parents=True)
    precious = stale / "src" / "pyproject.toml"  # what the bind mount would show
    precious.write_text("the checkout\n")
    stubs.mkdir()
    mounted = f"{stale}/src"
    for name, body in {
        "id": "echo 0",
        # the stale root's checkout mount, and the host's own mounts, which must be left alone
        "findmnt": f"printf '%s\\n' / /proc {mounted}",
        "umount": 'echo "umount $*" >> "$(dirname "$0")/calls"; exit 32',
    }.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    # Should it ever get past the check, debootstrap fails at once: no mirror listens there.
    env = {"PATH": f"{stubs}:{os.environ['PATH']}",
           "MOCKSERVER_DEBIAN_MIRROR": "http://127.0.0.1:9/debian"}
    proc = subprocess.run([BASH, str(work / "scripts" / "py313")], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode != 0
    assert f"still mounted under {stale}; not removing it" in proc.stderr
    assert precious.read_text() == "the checkout\n"
    # it tried to unmount that mount, and only that one: never the host's
    calls = (stubs / "calls").read_text().splitlines()
    assert calls and {c.split()[-1] for c in calls} == {mounted}
    assert "debootstrap" not in proc.stderr and not list(work.glob(".cache/*.tmp"))
