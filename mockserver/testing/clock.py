"""The mock's clock, driven over `/__admin/clock`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from ..core.clock import parse_iso
from .admin import checked


class ClockControl:
    """The mock's one clock, over `GET/POST /__admin/clock`. It is server-wide: every tenant
    sees it move. `restore()` puts it back as it was when this object was made."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._initial = self.describe()
        self.touched = False

    def describe(self) -> dict[str, Any]:
        return checked(self._http.get("/__admin/clock")).json()

    def _post(self, body: dict[str, Any]) -> datetime:
        self.touched = True
        response = self._http.post("/__admin/clock", json=body)
        if response.status_code == 400:
            raise ValueError(response.json().get("error"))
        return parse_iso(checked(response).json()["now"])

    @property
    def now(self) -> datetime:
        """The mock's time, an aware UTC datetime."""
        return parse_iso(self.describe()["now"])

    @property
    def frozen(self) -> bool:
        return self.describe()["mode"] == "frozen"

    def advance(self, seconds: float) -> datetime:
        """Move the clock on by `seconds` (frozen or not); the new time."""
        return self._post({"advance": seconds})

    def set(self, when: str | datetime) -> datetime:
        """Freeze the clock at `when` (ISO-8601 or a datetime; naive means UTC)."""
        return self._post({"set": when if isinstance(when, str) else when.isoformat()})

    def real(self) -> datetime:
        """Back to the system time, unfrozen and without offset."""
        return self._post({"real": True})

    def restore(self) -> None:
        if not self.touched:
            return
        initial = self._initial
        if initial["mode"] == "frozen":
            self.set(initial["now"])
        else:
            self.real()
            if initial.get("offsetSeconds"):
                self.advance(initial["offsetSeconds"])
        self.touched = False
