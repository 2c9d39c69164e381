"""core.http.Loader calls the JSON scanner itself: the same values and the same errors (message
and position) as json.loads with the same options."""
import json

from hypothesis import given
from hypothesis import strategies as st

from mockserver.core.http import Loader, TooDeep, _js_float, _js_int, load


def _no_constant(name: str):
    raise ValueError(name)


LOADER = Loader(parse_constant=_no_constant)
PIECES = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\x0b", "\ufeff", "{", "}", "[", "]",
                          '"', "\\", ":", ",", "0", "1", ".", "e", "-", "true", "null", "NaN",
                          "a", "é", '"k"'])
TEXTS = st.one_of(st.lists(PIECES, max_size=14).map("".join),
                  st.recursive(st.none() | st.integers() | st.floats(allow_nan=False)
                               | st.text(max_size=3),
                               lambda kids: st.lists(kids, max_size=3)
                               | st.dictionaries(st.text(max_size=2), kids, max_size=3))
                  .flatmap(lambda v: st.sampled_from(["", " ", "\n\t", " x"])
                           .map(lambda pad: pad + json.dumps(v) + pad.strip("x")[:1])))


def outcome(parse, text):
    try:
        return "value", repr(parse(text))
    except json.JSONDecodeError as exc:
        return "error", exc.msg, exc.pos
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, str(exc)


@given(TEXTS, st.booleans())
def test_a_loader_parses_as_json_loads_does(text, as_bytes):
    sent = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert outcome(LOADER, sent) == outcome(
        lambda t: json.loads(t, parse_int=_js_int, parse_float=_js_float,
                             parse_constant=_no_constant), sent)
    assert outcome(LOADER, sent) == outcome(lambda t: load(t, parse_constant=_no_constant), sent)


def test_a_loader_refuses_what_load_refuses():
    deep = "[" * 300 + "]" * 300
    for parse in (LOADER, load):
        for text in (deep, "\ufeff{}", "{} {}", "   "):
            try:
                parse(text)
            except ValueError as exc:
                assert isinstance(exc, TooDeep) == (text == deep)
            else:
                raise AssertionError(text)
    assert outcome(LOADER, 5)[0] == "TypeError"
