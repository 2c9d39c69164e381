""".ci/run: installs Debian's chromium when it is missing (as root, or through sudo), then runs
`make test`. Hermetic: apt-get, sudo, id and make are stand-ins that record their calls. And
what the browser tests do without a browser: fail under CI, skip elsewhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = '#!/bin/sh\necho "{name} $*" >> "{log}"\n'


def run_ci(tmp: Path, uid: int, chromium: Path, with_sudo: bool = True, node: bool = True,
           **env_extra: str):
    work, stubs, log = tmp / "work", tmp / "bin", tmp / "calls.log"
    (work / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", work / ".ci" / "run")
    stubs.mkdir()
    for name in ("apt-get", "make") + (("sudo",) if with_sudo else ()):
        (stubs / name).write_text(RECORD.format(name=name, log=log) if name != "sudo" else
                                  f'#!/bin/sh\necho "sudo $*" >> "{log}"\nshift\nexec "$@"\n')
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if node:
        (stubs / "node").write_text("#!/bin/sh\n")
    for f in stubs.iterdir():
        f.chmod(0o755)
    # Only the stand-ins and the shell's basics: no real sudo or apt-get is reachable.
    basics = tmp / "basics"
    basics.mkdir()
    for tool in ("env", "dirname", "bash"):
        os.symlink(shutil.which(tool), basics / tool)
    env = {"PATH": f"{stubs}:{basics}", "MOCKSERVER_CHROMIUM": str(chromium), **env_extra}
    proc = subprocess.run([shutil.which("bash"), str(work / ".ci" / "run")], env=env,
                          capture_output=True, text=True, timeout=30)
    return proc, (log.read_text().splitlines() if log.exists() else [])


def test_chromium_present_runs_the_tests_only(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    proc, calls = run_ci(tmp_path, 0, chromium)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["make test"]


def test_chromium_missing_is_installed_first_as_root(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends chromium",
                     "make test"]


def test_chromium_missing_is_installed_through_sudo_otherwise(tmp_path):
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["sudo -n apt-get update", "apt-get update",
                     "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y "
                     "--no-install-recommends chromium",
                     "apt-get install -y --no-install-recommends chromium",
                     "make test"]


def test_node_missing_is_installed_with_chromium(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", node=False)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends chromium nodejs",
                     "make test"]


def test_node_missing_is_installed_even_without_the_browser_tests(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", node=False, MOCKSERVER_NO_BROWSER="1")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update", "apt-get install -y --no-install-recommends nodejs",
                     "make test"]


def test_without_root_or_sudo_it_stops_and_says_why(tmp_path):
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent", with_sudo=False)
    assert proc.returncode == 1
    assert "MOCKSERVER_NO_BROWSER=1" in proc.stderr
    assert calls == []


def test_no_browser_skips_the_install_as_the_refusal_advises(tmp_path):
    # The message above tells a machine without root or sudo to set MOCKSERVER_NO_BROWSER=1:
    # .ci/run itself must then run the tests (the browser ones skip) instead of refusing again.
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent", with_sudo=False,
                         MOCKSERVER_NO_BROWSER="1")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["make test"]


def _page_tests(tmp: Path, **env: str) -> subprocess.CompletedProcess:
    """The sandbox page tests with no Chromium at the named path."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "MOCKSERVER_NO_BROWSER")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/test_sandbox_page.py::test_credentials_are_shown_with_copy_buttons"],
        cwd=REPO, env={**clean, "MOCKSERVER_CHROMIUM": str(tmp / "absent"), **env},
        capture_output=True, text=True, timeout=120)


def test_a_missing_browser_skips_the_page_tests_on_a_developers_machine(tmp_path):
    proc = _page_tests(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "error" not in proc.stdout.lower(), proc.stdout


def test_a_missing_browser_fails_the_page_tests_in_ci(tmp_path):
    proc = _page_tests(tmp_path, CI="true")
    assert proc.returncode != 0 and "1 error" in proc.stdout, proc.stdout
    assert "no Chromium at" in proc.stdout
