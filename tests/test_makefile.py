"""The Makefile, a new user's first command: what it says, what it passes on, what it refuses.

Hermetic: the Makefile runs in a scratch directory with a stand-in for $(PYTHON) (a shell
script that answers the version probe, makes a fake venv and records pip), so nothing is
installed and no network is needed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

# @VERSION@: what the version probe prints; @REAL@: a real python to run the probe instead.
FAKE_PYTHON = r"""#!/bin/sh
case "$1" in
  -c) if [ -n "@REAL@" ]; then exec "@REAL@" "$@"; fi; echo "@VERSION@" ;;
  -m) case "$2" in
        venv) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" &&
              printf '#!/bin/sh\necho "mockserver $*"\n' > "$3/bin/mockserver" &&
              chmod +x "$3/bin/mockserver" ;;
        pip) echo "$*" >> "@LOG@" ;;
        pytest) echo "pytest ran" ;;
      esac ;;
esac
"""


def fake_python(tmp: Path, version: str = "3.11.7", real: str = "") -> Path:
    path = tmp / "bin" / "fakepython"
    path.parent.mkdir(exist_ok=True)
    path.write_text(FAKE_PYTHON.replace("@VERSION@", version).replace("@REAL@", real)
                    .replace("@LOG@", str(tmp / "pip.log")))
    path.chmod(0o755)
    return path


def make(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    work = tmp / "work"
    if not work.exists():
        work.mkdir()
        shutil.copy(REPO / "Makefile", work / "Makefile")
        (work / "pyproject.toml").write_text("")
    # Not a sub-make of whatever make runs this suite (`make test`): no "Entering directory".
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ARGS", "PYTHON")}
    return subprocess.run([MAKE, *args], cwd=work, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def pip_calls(tmp: Path) -> list[str]:
    log = tmp / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_serve_says_what_it_does_then_passes_args_to_mockserver_serve(tmp_path):
    py = fake_python(tmp_path)
    first = make(tmp_path, "serve", f"PYTHON={py}", "ARGS=--port 0 --log-level info")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"creating .venv with {py} 3.11.7 ...",
        "installing mockserver and its dependencies (first run only) ...",
        "mockserver serve --port 0 --log-level info",
    ]
    assert pip_calls(tmp_path) == ["-m pip install -q -e ."]
    # Installed once: the next run goes straight to the server.
    again = make(tmp_path, "serve", f"PYTHON={py}")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == ["mockserver serve"]
    assert len(pip_calls(tmp_path)) == 1


def test_make_test_installs_the_test_extra_and_runs_pytest(tmp_path):
    py = fake_python(tmp_path)
    r = make(tmp_path, "test", f"PYTHON={py}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"creating .venv with {py} 3.11.7 ...",
        "installing mockserver and its test dependencies (first run only) ...",
        'PYTHONDONTWRITEBYTECODE= .venv/bin/python -m pytest -n auto --dist loadgroup -m "not slow and not alone"',
        "pytest ran",
    ]
    # ... and `make test-slow` the rest, with the same venv
    r = make(tmp_path, "test-slow", f"PYTHON={py}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "PYTHONDONTWRITEBYTECODE= .venv/bin/python -m pytest -n auto --dist loadgroup -m \"slow or alone\"",
        "pytest ran"]
    assert pip_calls(tmp_path) == ["-m pip install -q -e .[test]"]
    # The test extra covers serve's dependencies too.
    assert make(tmp_path, "serve", f"PYTHON={py}").stdout.splitlines() == ["mockserver serve"]


def script_target(tmp_path: Path, target: str, script: str, body: str):
    """`make <target>` in a copy of the Makefile whose scripts/<script> is a stand-in."""
    work = tmp_path / "work"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "Makefile", work / "Makefile")
    (work / "pyproject.toml").write_text("")
    stand_in = work / "scripts" / script
    stand_in.write_text(f"#!/bin/sh\n{body}\n")
    stand_in.chmod(0o755)
    return work, make(tmp_path, target, f"PYTHON={fake_python(tmp_path)}")


def test_make_test_py313_runs_its_script_and_needs_no_host_venv(tmp_path):
    """The 3.13 run (scripts/py313, tested in tests/test_py313.py) brings its own Python."""
    work, r = script_target(tmp_path, "test-py313", "py313", 'echo "py313 ran"')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["scripts/py313", "py313 ran"]
    assert not (work / ".venv").exists() and pip_calls(tmp_path) == []


def test_make_test_container_runs_its_script_with_the_test_venv(tmp_path):
    """scripts/container (the image run by Docker) runs its checks with the venv's pytest."""
    _, r = script_target(tmp_path, "test-container", "container",
                         'echo "container ran with $MOCKSERVER_TEST_PYTHON"')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "container ran with .venv/bin/python"
    assert pip_calls(tmp_path) == ["-m pip install -q -e .[test]"]


@pytest.mark.parametrize("target, variable, default, run", [
    ("fuzz", "MOCKSERVER_FUZZ_CASES", 10000, "-m pytest -n auto tests/fuzz"),
    ("durability", "MOCKSERVER_DURABILITY_ROUNDS", 50,
     "-m pytest tests/test_data_dir_durability.py -k kill_9"),
])
def test_the_long_targets_run_their_tests_with_a_long_budget_the_user_can_set(
        tmp_path, target, variable, default, run):
    """make fuzz (the fuzz tests' cases) and make durability (the kill -9 test's rounds)."""
    py = fake_python(tmp_path)
    r = make(tmp_path, target, f"PYTHON={py}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2:] == [
        f"PYTHONDONTWRITEBYTECODE= {variable}={default} .venv/bin/python {run}", "pytest ran"]
    r = make(tmp_path, target, f"{variable}=5")
    assert r.stdout.splitlines()[0].startswith(f"PYTHONDONTWRITEBYTECODE= {variable}=5 ")


@pytest.mark.parametrize("version", ["3.11.0", "3.12.4", "3.13.0", "3.20.1", "4.0.0"])
def test_python_3_11_or_newer_is_accepted(tmp_path, version):
    r = make(tmp_path, "serve", f"PYTHON={fake_python(tmp_path, version)}")
    assert r.returncode == 0, r.stderr
    assert f" {version} ..." in r.stdout.splitlines()[0]


def test_the_version_probe_works_on_a_real_python(tmp_path):
    real = sys.executable
    r = make(tmp_path, "serve", f"PYTHON={fake_python(tmp_path, real=real)}")
    assert r.returncode == 0, r.stderr
    version = "%d.%d.%d" % sys.version_info[:3]
    assert r.stdout.splitlines()[0].endswith(f" {version} ...")


def _refused(tmp_path: Path, r: subprocess.CompletedProcess, shown: str) -> None:
    assert r.returncode != 0
    assert "mockserver needs Python 3.11 or newer" in r.stderr
    assert shown in r.stderr and "PYTHON=" in r.stderr  # what it found, and the way out
    assert "creating" not in r.stdout
    assert not (tmp_path / "work" / ".venv").exists()
    assert pip_calls(tmp_path) == []


@pytest.mark.parametrize("version", ["3.10.14", "3.9.18", "3.1.5", "2.7.18"])
def test_an_older_python_stops_with_a_clear_message(tmp_path, version):
    py = fake_python(tmp_path, version)
    _refused(tmp_path, make(tmp_path, "serve", f"PYTHON={py}"), f"{py} is {version}")


def test_a_missing_python_stops_with_a_clear_message(tmp_path):
    r = make(tmp_path, "serve", f"PYTHON={tmp_path / 'no-such-python'}")
    _refused(tmp_path, r, f"{tmp_path / 'no-such-python'} did not run")


OLD = [p for p in (shutil.which(f"python3.{m}") for m in range(6, 11)) if p]


@pytest.mark.skipif(not OLD, reason="no python3.6 to python3.10 on PATH")
@pytest.mark.parametrize("old", OLD)
def test_a_real_older_python_stops_with_a_clear_message(tmp_path, old):
    # It may run (then its version is shown) or not (a pyenv shim of an inactive version).
    r = make(tmp_path, "serve", f"PYTHON={old}")
    _refused(tmp_path, r, old)
    assert f"{old} is 3." in r.stderr or f"{old} did not run" in r.stderr
