"""Every vendor package has one shape (core/vendor.py): the same files, each module following its
Protocol with the same signatures, the same kinds of classes, and a `Vendor` subclass that only
declares. A fifth vendor copied from any package passes this file unchanged."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from mockserver.app import default_vendors
from mockserver.core import vendor as seam

FILES = ("__init__", "fixtures", "store", "auth", "handlers", "routes", "errors", "state", "admin",
         "verify")
MODULES = {"fixtures": seam.Fixtures, "routes": seam.Routes, "errors": seam.Errors,
           "state": seam.State, "admin": seam.Admin, "verify": seam.Verify}
VENDORS = {type(v).__module__: type(v) for v in default_vendors()}


def params(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def protocol_methods(protocol: type) -> dict[str, list[str]]:
    return {name: params(fn) for name, fn in vars(protocol).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


@pytest.fixture(params=sorted(VENDORS), ids=lambda m: m.rsplit(".", 1)[-1])
def package(request) -> str:
    return request.param


def test_the_same_files(package):
    root = Path(importlib.import_module(package).__file__).parent
    assert {f for f in FILES if (root / f"{f}.py").exists()} == set(FILES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_follows_its_protocol(package, module):
    cls = VENDORS[package]
    mod = getattr(cls, module)
    assert mod is importlib.import_module(f"{package}.{module}")   # its own module, declared
    for name, expected in protocol_methods(MODULES[module]).items():
        assert params(getattr(mod, name)) == expected, f"{module}.{name}"
    for attr in getattr(MODULES[module], "__annotations__", {}):
        assert hasattr(mod, attr), f"{module}.{attr}"


def test_the_classes_have_one_signature_each(package):
    cls = VENDORS[package]
    handlers = importlib.import_module(f"{package}.handlers")
    assert issubclass(cls.service_type, seam.Service)
    assert cls.service_type.__module__ == handlers.__name__
    auth = cls.service_type.auth_type
    assert auth.__module__ == f"{package}.auth"
    assert params(auth.__init__) == params(seam.Auth.__init__)
    assert params(auth.tenant_of) == params(seam.Auth.tenant_of)
    assert cls.store_type.__module__ == f"{package}.store"
    assert params(cls.store_type)[:2] == ["template", "ctx"]
    assert params(handlers.route_missing) == ["g", "request"]


def test_a_vendor_class_only_declares(package):
    """Its methods are the base's; it writes only `new_credentials` (and its data)."""
    cls = VENDORS[package]
    own = {n for n, v in vars(cls).items() if inspect.isfunction(v) or isinstance(v, property)}
    assert own == {"new_credentials"}
    assert seam.Vendor in cls.__mro__ and cls.__orig_bases__[0].__origin__ is seam.Vendor
