"""The class-validator / class-transformer emulation, unit by unit."""
import math

import pytest

from mockserver.vendors.gravy.validation import MISSING, js_bool, js_number, parse_when


@pytest.mark.parametrize(("value", "start", "end"), [
    ("2024", "2024-01-01T00:00:00", "2024-12-31T23:59:59.999"),
    ("2024-01", "2024-01-01T00:00:00", "2024-01-31T23:59:59.999"),
    ("2024-12", "2024-12-01T00:00:00", "2024-12-31T23:59:59.999"),
    ("2024-01-15", "2024-01-15T00:00:00", "2024-01-15T23:59:59.999"),
    ("20240115", "2024-01-15T00:00:00", "2024-01-15T23:59:59.999"),
    ("2024-015", "2024-01-15T00:00:00", "2024-01-15T23:59:59.999"),
    ("2024-W03", "2024-01-15T00:00:00", "2024-01-21T23:59:59.999"),
    ("2024-W03-1", "2024-01-15T00:00:00", "2024-01-15T23:59:59.999"),
    ("+2025-12-31", "2025-12-31T00:00:00", "2025-12-31T23:59:59.999"),
    ("2024-01-15T24:00", "2024-01-16T00:00:00", "2024-01-16T00:00:00"),
    ("2024-01-15T10:30:00.123+02:00", "2024-01-15T08:30:00.123", "2024-01-15T08:30:00.123"),
    ("2024-01-15 10:30Z", "2024-01-15T10:30:00", "2024-01-15T10:30:00"),
])
def test_iso8601_forms_validator_js_accepts(value, start, end):
    def iso(dt):
        return dt.isoformat(timespec="milliseconds").removesuffix("+00:00")
    assert iso(parse_when(value)) == (start if "." in start else start + ".000")
    assert iso(parse_when(value, end_of_day=True)) == (end if "." in end else end + ".000")


@pytest.mark.parametrize("value", ["", "bad", "2024-13-01", "2024-02-31", "2024-1-5", "-2024-01-01",
                                   "2024-01-15T25:00", "202401", 20240115])
def test_iso8601_rejects(value):
    assert parse_when(value) is None


@pytest.mark.parametrize(("raw", "number"), [("", 0), (" 7 ", 7), ("1e2", 100), ("0x10", 16),
                                             ("-3.5", -3.5), ("Infinity", math.inf)])
def test_js_number(raw, number):
    assert js_number(raw) == number


def test_js_number_nan_arrays_and_missing():
    assert math.isnan(js_number("abc"))
    assert js_number(["1", "2"]) == [1, 2]
    assert js_number(MISSING) is MISSING


def test_js_bool():
    assert (js_bool("true"), js_bool("FALSE"), js_bool("1"), js_bool("0")) == (True, False, True, False)
    assert js_bool("yes") == "yes"


@pytest.mark.parametrize("page, echoed", [
    ("1e308", "1e+308"),                  # JSON.stringify(1e308)
    ("1e17", "100000000000000000"),       # JS writes integers below 1e21 in full
    ("1152921504606846976", "1152921504606847000"),  # 2**60 as a double, shortest digits
    ("3.0", "3"),
])
def test_page_numbers_read_back_as_javascript_writes_them(client, auth, page, echoed):
    r = client.get(f"/gravy/connections?page={page}", headers=auth)
    assert r.status_code == 200
    assert f'"page":{echoed},' in r.text


def test_json_numbers_are_doubles_as_json_parse_makes_them():
    from mockserver.core.http import dump, load
    body = load('{"a": 5.0, "b": 9007199254740993, "c": 1e17, "d": 1e400, "e": 0.5, "f": 1e21}')
    assert dump(body) == b'{"a":5,"b":9007199254740992,"c":100000000000000000,"d":null,' \
                         b'"e":0.5,"f":1e+21}'
