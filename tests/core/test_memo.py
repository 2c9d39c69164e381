"""core.memo.Memo: the one mechanism every hot-path memo uses, bounded by its named size and,
where given, by the total weight of what it keeps."""
import ast
from pathlib import Path

from hypothesis import given, strategies as st

from mockserver.core.memo import Memo

PACKAGE = Path(__file__).resolve().parents[2] / "mockserver"


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 40))), st.integers(1, 8),
       st.none() | st.integers(40, 200))
def test_a_memo_never_holds_more_than_its_bounds_and_always_the_latest(items, size, weight):
    memo: Memo[int, str] = Memo(size, max_weight=weight)
    for key, w in items:
        assert memo.keep(key, f"v{key}", w) == f"v{key}"
        assert len(memo) <= size and memo[key] == f"v{key}"
        assert weight is None or memo.weight <= weight


def test_a_cleared_memo_forgets_its_weight():
    memo: Memo[str, int] = Memo(4, max_weight=10)
    memo.keep("a", 1, 6)
    memo.clear()
    memo.keep("b", 2, 9)            # fits only because the weight went with the entries
    assert dict(memo) == {"b": 2} and memo.weight == 9


def _decorators(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                name = ast.unparse(d.func if isinstance(d, ast.Call) else d)
                if name.split(".")[-1] in ("lru_cache", "cache"):
                    found.append((node.name, node.lineno))
    return found


def test_no_process_wide_memo_of_request_data():
    """functools' caches are process-wide: only constants built from the package's own files
    (Groove's schema, the contracts) may use one; everything a request fills is a Memo its app
    owns."""
    allowed = {("vendors/groove/schema.py", "build"), ("core/contracts.py", "load"),
               ("vendors/groove/fixtures.py", "_generated"),  # frozen fixture data, by seed
               ("vendors/gravy/store.py", "_made"), ("vendors/gravitec/fixtures.py", "_faked")}
    found = {(str(p.relative_to(PACKAGE)), name)
             for p in PACKAGE.rglob("*.py") for name, _ in _decorators(ast.parse(p.read_text()))}
    assert found <= allowed, found - allowed
