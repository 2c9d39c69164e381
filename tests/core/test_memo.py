"""core.memo.keep: the one bound every answer memo uses."""
from hypothesis import given, strategies as st

from mockserver.core.memo import keep


@given(st.lists(st.integers(0, 50)), st.integers(1, 8))
def test_a_memo_never_holds_more_than_its_limit_and_always_the_latest(keys, limit):
    memo: dict[int, str] = {}
    for k in keys:
        assert keep(memo, k, f"v{k}", limit) == f"v{k}"
        assert len(memo) <= limit and memo[k] == f"v{k}"
