"""Where the data folders are: inside the installed package, or beside it in a checkout."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """`fixtures` or `contracts`: the wheel ships them in the package, a checkout keeps them at the top."""
    packaged = _PKG / name
    if packaged.is_dir():
        return packaged
    return _PKG.parent / name
