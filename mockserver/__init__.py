"""mockserver: a stateful, high-fidelity mock of Gravy Connect, Gravitec, Groove and Integry."""
from .app import create_app
from .core.clock import Clock

__all__ = ["create_app", "Clock"]
__version__ = "0.1.0"
