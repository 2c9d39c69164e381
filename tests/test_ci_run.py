""".ci/run: installs what its targets need from Debian when it is missing (as root, or through
sudo), then runs `make test`, `make test-slow`, `make test-py313` and `make test-container`,
every one even after a failure. Hermetic: apt-get, sudo, id, dpkg-query and make are stand-ins that record their
calls. And what the browser tests do without a browser: fail under CI, skip elsewhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECORD = '#!/bin/sh\necho "{name} $*" >> "{log}"\n'


PACKAGES = ("debootstrap", "docker.io", "docker-compose")  # what .ci/run asks dpkg about
TOOLS = ("node", "npm", "certutil")                        # what it looks for on PATH
ALL = ["make test", "make test-slow", "make test-py313", "make test-container"]


def run_ci(tmp: Path, uid: int, chromium: Path, with_sudo: bool = True, node: bool = True,
           tools: tuple[str, ...] = TOOLS, packages: tuple[str, ...] = PACKAGES,
           fail: str = "", **env_extra: str):
    """.ci/run with stand-ins: `tools` on PATH, `packages` installed (dpkg-query), and the
    make target `fail` failing."""
    work, stubs, log = tmp / "work", tmp / "bin", tmp / "calls.log"
    (work / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", work / ".ci" / "run")
    stubs.mkdir()
    for name in ("apt-get",) + (("sudo",) if with_sudo else ()):
        (stubs / name).write_text(RECORD.format(name=name, log=log) if name != "sudo" else
                                  f'#!/bin/sh\necho "sudo $*" >> "{log}"\nshift\nexec "$@"\n')
    (stubs / "make").write_text(RECORD.format(name="make", log=log)
                                + (f'[ "$1" != {fail} ] || exit 2\n' if fail else ""))
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (stubs / "dpkg-query").write_text(
        '#!/bin/sh\nfor p in %s; do [ "$p" != "$3" ] || { echo "install ok installed"; exit 0; }; '
        'done\nexit 1\n' % " ".join(packages))
    for name in tools if node else tuple(t for t in tools if t != "node"):
        (stubs / name).write_text("#!/bin/sh\n")
    for f in stubs.iterdir():
        f.chmod(0o755)
    # Only the stand-ins and the shell's basics: no real sudo or apt-get is reachable.
    basics = tmp / "basics"
    basics.mkdir()
    for tool in ("env", "dirname", "bash", "grep"):
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
    assert calls == ALL


def test_chromium_missing_is_installed_first_as_root(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends chromium",
                     *ALL]


def test_chromium_missing_is_installed_through_sudo_otherwise(tmp_path):
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["sudo -n apt-get update", "apt-get update",
                     "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y "
                     "--no-install-recommends chromium",
                     "apt-get install -y --no-install-recommends chromium",
                     "make test", "make test-slow", "sudo -n make test-py313", "make test-py313",
                     "sudo -n make test-container", "make test-container"]


def test_node_missing_is_installed_with_chromium(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", node=False)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends chromium nodejs",
                     *ALL]


def test_node_missing_is_installed_even_without_the_browser_tests(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", node=False, MOCKSERVER_NO_BROWSER="1")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update", "apt-get install -y --no-install-recommends nodejs",
                     *ALL]


def test_without_root_or_sudo_it_stops_and_says_why(tmp_path):
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent", with_sudo=False)
    assert proc.returncode == 1
    assert "MOCKSERVER_NO_BROWSER=1" in proc.stderr
    assert calls == []


def test_no_browser_skips_the_install_as_the_refusal_advises(tmp_path):
    # The message above tells a machine without root or sudo to set MOCKSERVER_NO_BROWSER=1:
    # .ci/run itself must then run the tests (the browser ones skip) instead of refusing again.
    # ... and MOCKSERVER_CI_TARGETS=test, since the other targets need root.
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent", with_sudo=False,
                         MOCKSERVER_NO_BROWSER="1", MOCKSERVER_CI_TARGETS="test")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["make test"]


def test_without_root_or_sudo_the_root_targets_fail_after_the_host_suite_ran(tmp_path):
    proc, calls = run_ci(tmp_path, 1000, tmp_path / "absent", with_sudo=False,
                         MOCKSERVER_NO_BROWSER="1")
    assert proc.returncode == 1
    assert calls == ["make test", "make test-slow"]
    assert 'MOCKSERVER_CI_TARGETS="test test-slow"' in proc.stderr
    assert "failed: test-py313 test-container" in proc.stderr


def test_the_root_targets_packages_are_installed_when_missing(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", tools=("node",), packages=())
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends chromium libnss3-tools npm "
                     "debootstrap docker.io docker-compose",
                     *ALL]


def test_only_the_named_targets_run_and_need_their_packages(tmp_path):
    proc, calls = run_ci(tmp_path, 0, tmp_path / "absent", packages=(),
                         MOCKSERVER_NO_BROWSER="1", MOCKSERVER_CI_TARGETS="test test-py313")
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update",
                     "apt-get install -y --no-install-recommends debootstrap",
                     "make test", "make test-py313"]


def test_a_failed_target_fails_ci_after_every_target_ran(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    proc, calls = run_ci(tmp_path, 0, chromium, fail="test")
    assert proc.returncode == 1
    assert calls == ALL
    assert "failed: test" in proc.stderr


def _page_tests(tmp: Path, **env: str) -> subprocess.CompletedProcess:
    """The sandbox page tests with no Chromium at the named path."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "MOCKSERVER_NO_BROWSER")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/test_sandbox_page.py::test_credentials_are_shown_with_copy_buttons"],
        cwd=REPO, env={**clean, "MOCKSERVER_CHROMIUM": str(tmp / "absent"), **env},
        capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # pytest run again in a subprocess: make test-slow
def test_a_missing_browser_skips_the_page_tests_on_a_developers_machine(tmp_path):
    proc = _page_tests(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout and "error" not in proc.stdout.lower(), proc.stdout


@pytest.mark.slow  # pytest run again in a subprocess: make test-slow
def test_a_missing_browser_fails_the_page_tests_in_ci(tmp_path):
    proc = _page_tests(tmp_path, CI="true")
    assert proc.returncode != 0 and "1 error" in proc.stdout, proc.stdout
    assert "no Chromium at" in proc.stdout
