"""mockserver: a stateful, high-fidelity mock of Gravy Connect, Gravitec, Groove and Integry."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .core.clock import Clock

__all__ = ["create_app", "Clock"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Loaded on first use: the pytest plugin (mockserver.pytest_plugin) is imported by every
    # pytest run where mockserver is installed, and must not pull in Starlette and the vendors.
    if name == "create_app":
        from .app import create_app
        return create_app
    if name == "Clock":
        from .core.clock import Clock
        return Clock
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
