"""Each server setting's default is written once, in mockserver/core/settings.py, and every
reader agrees with it: `serve --help`, the parsed arguments, create_app(), MockServer and the
modules that hold a bound."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import operator
import re
from pathlib import Path

import pytest

from mockserver.app import MockServer, create_app
from mockserver.cli import parse_args
from mockserver.core.settings import DEFAULTS, SETTINGS

PACKAGE = Path(__file__).resolve().parents[1] / "mockserver"
SETTINGS_FILE = PACKAGE / "core" / "settings.py"


def _default(function, name: str):
    return inspect.signature(function).parameters[name].default


# --- the CLI ----------------------------------------------------------------------


def _help_entries(capsys, monkeypatch) -> dict[str, str]:
    """`serve --help`'s options: flag -> its whole entry, wrapped lines joined."""
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at the terminal's width
    with pytest.raises(SystemExit):
        parse_args(["serve", "--help"], env={})
    text = capsys.readouterr().out.split("\noptions:\n", 1)[1]
    entries: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("  -"):
            flag = line.split()[0].rstrip(",")
            entries[flag] = line.strip()
        elif line.strip():
            entries[flag] += " " + line.strip()
    entries.pop("-h")
    return entries


def test_help_shows_each_settings_variable_and_default(capsys, monkeypatch):
    entries = _help_entries(capsys, monkeypatch)
    assert list(entries) == [s.flag for s in SETTINGS.values()]  # none missing, none extra
    for s in SETTINGS.values():
        bracket = re.search(r"\[(MOCKSERVER_[A-Z_]+)(=1)?; ([^\]]+)\]$", entries[s.flag])
        assert bracket, entries[s.flag]
        env, shown = bracket.group(1), bracket.group(3)
        assert env == s.env == "MOCKSERVER_" + s.dest.upper()
        if s.default is None or isinstance(s.default, bool):
            assert shown == s.unset  # what unset means: "bundled", "open", "off"...
        else:  # the value itself, as the flag would take it
            assert type(s.default)(shown) == s.default, (s.flag, shown)


def test_parsed_defaults_are_the_tables():
    args = parse_args(["serve"], env={})
    assert {name: getattr(args, name) for name in SETTINGS} == dict(DEFAULTS)


@pytest.mark.parametrize("setting", [s for s in SETTINGS.values() if s.minimum is not None],
                         ids=lambda s: s.dest)
def test_the_tables_bounds_are_the_clis(setting, capsys):
    parse_args(["serve", setting.flag, str(setting.minimum)], env={})
    with pytest.raises(SystemExit) as exc:
        parse_args(["serve"], env={setting.env: str(setting.minimum - 1)})
    assert exc.value.code == 2
    assert setting.dest.replace("_", " ") in capsys.readouterr().err
    if setting.maximum is not None:
        parse_args(["serve", setting.flag, str(setting.maximum)], env={})
        with pytest.raises(SystemExit):
            parse_args(["serve", setting.flag, str(setting.maximum + 1)], env={})


def test_readme_lists_every_flag():
    readme = (PACKAGE.parent / "README.md").read_text()
    synopsis = readme.split("Running: `mockserver serve", 1)[1].split("`", 1)[0]
    assert re.findall(r"\[(--[a-z-]+)", synopsis) == [s.flag for s in SETTINGS.values()]


# --- the app and the modules ------------------------------------------------------


def test_create_app_and_mock_server_take_the_tables_defaults():
    shared = [name for name in inspect.signature(create_app).parameters if name in SETTINGS]
    assert sorted(shared) == sorted(["seed", "fixtures", "admin_token", "journal_size",
                                     "journal_bytes", "max_sessions", "max_faults",
                                     "max_tenants", "cors_origins", "state", "record",
                                     "record_dir", "data_dir", "data_dir_recover"])
    for name in shared:
        assert _default(create_app, name) == DEFAULTS[name], name
    for name in ("max_faults", "max_tenants"):
        assert _default(MockServer, name) == DEFAULTS[name], name


def test_the_modules_take_the_tables_defaults():
    from mockserver import http1
    from mockserver.core.accesslog import with_access_log
    from mockserver.core.faults import Faults
    from mockserver.core.journal import Journal
    from mockserver.core.ratelimit import SlidingWindow
    from mockserver.core.tenancy import Tenants
    from mockserver.core.vendor import Context

    session_limit = {f.name: f.default for f in dataclasses.fields(Context)}["session_limit"]
    pairs = {
        "journal_size": [_default(Journal, "maxlen")],
        "journal_bytes": [_default(Journal, "max_bytes")],
        "max_tenants": [_default(Tenants, "limit")],
        "max_faults": [_default(Faults, "limit")],
        "seed": [_default(Faults, "seed")],
        # a Groove access token's rate-limit window is kept as long as its session
        "max_sessions": [session_limit, SlidingWindow().max_keys],
        "max_header_bytes": [http1.Http1Protocol.max_head, _default(http1.protocol, "max_head")],
        "header_timeout": [http1.Http1Protocol.header_timeout,
                           _default(http1.protocol, "header_timeout")],
        "max_connections": [http1.Http1Protocol.max_connections,
                            _default(http1.protocol, "max_connections")],
        "log_format": [_default(with_access_log, "fmt")],
    }
    for name, values in pairs.items():
        assert values == [DEFAULTS[name]] * len(values), name


# --- written once -----------------------------------------------------------------

# Numbers equal to a setting's default that are no setting: (what the number is, value).
UNRELATED = {
    ("code", 1000),               # a WebSocket close code: normal closure
    ("ASGI_CLOSE_CODE", 1000),    # the same, as ASGI's websocket.close defaults it
    ("RECEIVE_SECONDS", 60.0),    # Gravitec: how fast a sent campaign's received count settles
    ("TEXT_MAX", 1000),           # Gravitec: longest push text
    ("URL_MAX", 1000),            # Gravitec: longest push URL
    ("MAX_TOKENS", 1000),         # Groove: longest GraphQL document, in tokens
    ("CACHE_TOKENS", 10_000),     # Groove: tokens of the parsed documents kept
    ("CACHE_MAX_QUERY", 16_384),  # Groove: longest document memoised
    ("RESULT_MAX_REQUEST", 16_384),  # Groove: largest request whose answer is memoised
    ("RESULT_MAX_BYTES", 16_384),    # Groove: largest answer memoised
    ("MAX_COMPLEXITY", 10_000),   # Groove: graphql-ruby's max_complexity
    ("SLACK_KEPT", 1000),         # Integry: Slack messages kept per channel
    ("MAX_WAIT", 60.0),           # verify: the longest Retry-After honoured
}
_OPS = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Sub: operator.sub,
        ast.Pow: operator.pow, ast.LShift: operator.lshift}


def _number(node: ast.AST) -> int | float | None:
    """The value of a literal number or of arithmetic on literals (`16 * 1024`), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _number(node.left), _number(node.right)
        if left is not None and right is not None:
            return _OPS[type(node.op)](left, right)
    return None


def _numbers(tree: ast.Module):
    """(what it is, value, line) of each number written whole: a default, a constant, an
    argument, an item. One that is part of a computation or a comparison (`ms / 1000`,
    `n < 1`) is not a value of its own."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        value = _number(node)
        parent = parents.get(node)
        if value is None or isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)):
            continue
        what = ast.unparse(parent)
        if isinstance(parent, ast.Tuple) and isinstance(parents.get(parent), ast.Assign):
            target = parents[parent].targets[-1]  # `A, B = 1, 2`: each name its number
            if isinstance(target, ast.Tuple) and len(target.elts) == len(parent.elts):
                what = ast.unparse(target.elts[parent.elts.index(node)])
        elif isinstance(parent, (ast.Assign, ast.AnnAssign)):
            what = ast.unparse(parent.targets[-1] if isinstance(parent, ast.Assign)
                               else parent.target)
        elif isinstance(parent, ast.keyword):
            what = parent.arg or what
        elif isinstance(parent, ast.Dict) and node in parent.values:
            key = parent.keys[parent.values.index(node)]
            what = key.value if isinstance(key, ast.Constant) else what
        yield what, value, node.lineno


def test_each_default_is_written_only_in_the_settings_module():
    # Zero is everyone's default (offsets, counters): the signatures above cover the seed's.
    defaults = {(type(s.default), s.default) for s in SETTINGS.values()
                if type(s.default) in (int, float) and s.default}
    assert len(defaults) == 6  # 8080, 10_000, 32 MiB, 1000, 60.0, 16 KiB
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == SETTINGS_FILE:
            continue
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(PACKAGE.parent)
        # --help's "[MOCKSERVER_PORT; 8080]" is written by the table alone
        found += [f"{where}: {m.group()}" for m in re.finditer(r"\[MOCKSERVER_\w+(=1)?; ", source)]
        for what, value, line in _numbers(ast.parse(source)):
            if (type(value), value) in defaults and (what, value) not in UNRELATED:
                found.append(f"{where}:{line}: {what}: {value}")
    assert not found, "defaults written outside mockserver/core/settings.py:\n" + "\n".join(found)
