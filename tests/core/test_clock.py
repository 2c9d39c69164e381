from datetime import datetime, timezone

from mockserver.core.clock import Clock, iso_ms, parse_iso


def test_frozen_clock_stays_put_and_advances():
    c = Clock("2024-01-15T10:30:00Z")
    assert c.iso() == "2024-01-15T10:30:00.000Z"
    assert c.iso() == "2024-01-15T10:30:00.000Z"
    c.advance(7200)
    assert c.iso() == "2024-01-15T12:30:00.000Z"
    assert c.describe()["mode"] == "frozen"


def test_real_clock_follows_system_time_with_offset(monkeypatch):
    c = Clock()
    monkeypatch.setattr(Clock, "_system", staticmethod(lambda: 1_000_000.0))
    assert c.time() == 1_000_000.0
    c.advance(60)
    assert c.time() == 1_000_060.0
    c.set("2030-01-01T00:00:00Z")
    assert c.frozen and c.iso() == "2030-01-01T00:00:00.000Z"
    c.real()
    assert c.time() == 1_000_000.0 and not c.frozen


def test_iso_helpers_match_javascript():
    assert parse_iso("2024-01-31T23:59:59.999Z") == datetime(2024, 1, 31, 23, 59, 59, 999000,
                                                             tzinfo=timezone.utc)
    assert iso_ms(parse_iso("2024-01-15T10:30:00+02:00")) == "2024-01-15T08:30:00.000Z"


def test_admin_clock_endpoints(client):
    assert client.get("/__admin/clock").json()["now"] == "2024-01-15T10:30:00.000Z"
    r = client.post("/__admin/clock", json={"advance": 90})
    assert r.status_code == 200 and r.json()["now"] == "2024-01-15T10:31:30.000Z"
    r = client.post("/__admin/clock", json={"set": "2025-06-01T00:00:00Z"})
    assert r.json()["now"] == "2025-06-01T00:00:00.000Z"
    assert client.post("/__admin/clock", json={"advance": "soon"}).status_code == 400
    assert client.post("/__admin/clock", json={"set": "not a date"}).status_code == 400
    assert client.post("/__admin/clock", json={}).status_code == 400
    assert client.post("/__admin/clock", content=b"{").status_code == 400
    assert client.get("/__admin/clock").json()["now"] == "2025-06-01T00:00:00.000Z"
    r = client.post("/__admin/clock", json={"real": True})
    assert r.json()["mode"] == "real"


def test_nothing_reads_the_system_time_outside_the_clock():
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parents[2] / "mockserver"
    offenders = [str(p) for p in root.rglob("*.py") if p.name != "clock.py"
                 and re.search(r"time\.time\(\)|datetime\.(now|utcnow)\(|date\.today\(",
                               p.read_text())]
    assert offenders == []
