"""core/tenancy.py on its own, with fake store factories rather than vendors: credentials that
find their tenant and no other, scoped tokens, the tenant limit, and stores built only when read."""
from __future__ import annotations

import itertools
import string
from typing import Any, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.core.tenancy import (DEFAULT_TENANT, MAX_TENANTS, Stores, Tenant, Tenants,
                                     TooManyTenants, attribute, rescoped, same_secret)


class Factory:
    """What tenancy asks of a vendor: a name, credentials, which of them name a tenant, and a
    new store (counted, so a test sees when one is built)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.default_credentials = {"key": f"{name}-key", "secret": f"{name}-secret"}
        self.built = 0
        self._minted = itertools.count(1)

    def new_credentials(self) -> dict[str, str]:
        n = next(self._minted)
        return {"key": f"{self.name}-key-{n}", "secret": f"{self.name}-secret-{n}",
                "alias": f"{self.name}-alias-{n}"}

    def credential_keys(self, credentials: Mapping[str, str]) -> list[str]:
        return [credentials[k] for k in ("key", "alias") if k in credentials]

    def new_store(self) -> Any:
        self.built += 1
        return {"items": [], "built": self.built}


@pytest.fixture
def acme() -> Factory:
    return Factory("acme")


@pytest.fixture
def tenants(acme) -> Tenants:
    return Tenants([acme, Factory("other")])


# -- same_secret --------------------------------------------------------------------------------
any_text = st.lists(st.integers(0, 0x10FFFF).map(chr), max_size=8).map("".join)  # surrogates too


@settings(max_examples=300, deadline=None)
@given(any_text, any_text)
def test_same_secret_is_equality_for_any_strings(a, b):
    """Non-ASCII and lone surrogates included, where compare_digest refuses a str."""
    assert same_secret(a, b) is (a == b)
    assert same_secret(a, a)


@pytest.mark.parametrize("given_, expected, same", [
    ("é", "é", True), ("é", "e", False), ("e\u0301", "é", False), ("\ud800", "\ud800", True),
    ("\ud800", "\udc00", False), ("\x00", "", False), ("", "", True), ("日本", "日本", True),
    ("\ud83d\ude00", "\U0001f600", False),  # a surrogate pair is not the character it would make
])
def test_same_secret_examples(given_, expected, same):
    assert same_secret(given_, expected) is same


# -- scoped tokens ------------------------------------------------------------------------------
raw_token = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=43)


@settings(max_examples=200, deadline=None)
@given(raw_token, st.integers(0, 2), st.integers(0, 2))
def test_a_rescoped_token_is_the_token_the_other_tenant_would_have_minted(token, a, b):
    tenants = Tenants([Factory("acme")])
    pool = [tenants.default, tenants.create(), tenants.create()]
    t, t2 = pool[a], pool[b]
    scoped = tenants.scoped(t, token)
    assert rescoped(scoped, t2) == tenants.scoped(t2, token)
    assert tenants.owner_of(scoped) is t
    assert tenants.owner_of(rescoped(scoped, t2)) is t2


def test_the_default_tenants_tokens_look_like_the_vendors(tenants):
    t = tenants.create()
    assert tenants.scoped(tenants.default, "abc") == "abc"
    assert tenants.scoped(t, "abc") == f"{t.id}.abc"
    assert "." not in t.id and t.id.startswith("t_")


@pytest.mark.parametrize("token", ["nope.abc", ".abc", "default.", "t_.x"])
def test_a_token_naming_no_tenant_has_no_owner(tenants, token):
    expected = tenants.default if token.startswith("default.") else None
    assert tenants.owner_of(token) is expected


def test_a_deleted_tenants_tokens_have_no_owner(tenants):
    t = tenants.create()
    token = tenants.scoped(t, "abc")
    tenants.delete(t.id)
    assert tenants.owner_of(token) is None


# -- credentials --------------------------------------------------------------------------------
def test_each_credential_key_finds_its_own_tenant_and_vendor(tenants):
    a, b = tenants.create(), tenants.create()
    assert tenants.by_credential("acme", "acme-key") is tenants.default
    for t in (a, b):
        creds = t.credentials["acme"]
        assert tenants.by_credential("acme", creds["key"]) is t
        assert tenants.by_credential("acme", creds["alias"]) is t
        assert tenants.by_credential("other", creds["key"]) is None  # keys are per vendor
        assert tenants.by_credential("other", t.credentials["other"]["key"]) is t
    assert a.credentials["acme"] != b.credentials["acme"]
    assert tenants.by_credential("acme", "nobody") is None
    assert tenants.by_credential("nobody", "acme-key") is None


def test_the_default_tenant_has_the_vendors_default_credentials(acme, tenants):
    assert tenants.default.id == DEFAULT_TENANT and tenants.default.is_default
    assert tenants.default.credentials["acme"] == acme.default_credentials
    assert tenants.default.credentials["acme"] is not acme.default_credentials  # a copy
    assert not tenants.create().is_default


def test_authenticate_needs_the_key_and_its_own_secret(tenants):
    t = tenants.create()
    creds = t.credentials["acme"]
    auth = tenants.authenticate
    assert auth("acme", "key", creds["key"], "secret", creds["secret"]) is t
    assert auth("acme", "key", "acme-key", "secret", "acme-secret") is tenants.default
    assert auth("acme", "key", creds["key"], "secret", "acme-secret") is None  # another's secret
    assert auth("acme", "key", creds["key"], "secret", creds["secret"] + "x") is None
    assert auth("acme", "key", creds["alias"], "secret", creds["secret"]) is None  # not "key"
    assert auth("acme", "key", "nobody", "secret", creds["secret"]) is None
    assert auth("other", "key", creds["key"], "secret", creds["secret"]) is None


def test_authenticate_never_opens_a_tenant_without_the_named_secret(tenants):
    """Credentials that lack the secret field asked for are opened by no secret, the empty
    one included."""
    assert tenants.authenticate("acme", "key", "acme-key", "password", "") is None
    assert tenants.authenticate("acme", "key", "acme-key", "password", "acme-secret") is None


@pytest.mark.parametrize("secret", ["é", "\x00", "\ud800", "a" * 100_000, ""])
def test_authenticate_refuses_any_wrong_secret_without_raising(tenants, secret):
    assert tenants.authenticate("acme", "key", "acme-key", "secret", secret) is None


def test_attribute_names_the_tenant_of_the_request():
    scope: dict = {"state": {}}
    tenant = Tenant("t_1", {})
    assert attribute(scope, tenant) is tenant and scope["state"]["tenant"] == "t_1"


# -- lifecycle ----------------------------------------------------------------------------------
def test_create_and_delete_follow_in_every_view(tenants):
    live = tenants.live
    t = tenants.create()
    assert len(tenants) == 2 and tenants.get(t.id) is t and live[t.id] is t
    assert [x.id for x in tenants] == [DEFAULT_TENANT, t.id]
    with pytest.raises(TypeError):
        live["x"] = t  # type: ignore[index]  # read-only
    keys = [t.credentials["acme"]["key"], t.credentials["acme"]["alias"]]
    assert tenants.delete(t.id) is True
    assert tenants.get(t.id) is None and t.id not in live and len(tenants) == 1
    assert all(tenants.by_credential("acme", k) is None for k in keys)
    assert tenants.delete(t.id) is False  # already gone
    assert tenants.by_credential("acme", "acme-key") is tenants.default


def test_deleted_tenants_leave_no_credential_behind(tenants):
    """Memory stays bounded however many tenants come and go (parallel CI jobs, for months):
    the credential index holds only live tenants' keys."""
    for _ in range(50):
        tenants.delete(tenants.create().id)
    kept = tenants.create()
    assert len(tenants._by_key) == 2 * (1 + 2)  # two vendors: the default's key, kept's two
    assert tenants.by_credential("acme", kept.credentials["acme"]["alias"]) is kept


def test_the_default_tenant_cannot_be_deleted(tenants):
    assert tenants.delete(DEFAULT_TENANT) is False and tenants.delete("nobody") is False
    assert tenants.get(DEFAULT_TENANT) is tenants.default and len(tenants) == 1


def test_iterating_is_over_a_copy_so_tenants_may_be_deleted_meanwhile(tenants):
    for _ in range(3):
        tenants.create()
    for t in tenants:
        tenants.delete(t.id)
    assert [t.id for t in tenants] == [DEFAULT_TENANT]


def test_the_tenant_limit_counts_the_default_and_frees_on_delete(acme):
    tenants = Tenants([acme], limit=3)
    made = [tenants.create(), tenants.create()]
    with pytest.raises(TooManyTenants, match="at most 3 tenants"):
        tenants.create()
    assert len(tenants) == 3  # the refusal changed nothing
    tenants.delete(made[0].id)
    assert tenants.create() and len(tenants) == 3


@pytest.mark.parametrize("limit", [1, 0, -5])
def test_a_limit_below_one_still_keeps_the_default(acme, limit):
    tenants = Tenants([acme], limit=limit)
    assert tenants.limit == 1 and tenants.default.is_default
    with pytest.raises(TooManyTenants):
        tenants.create()


def test_the_default_limit():
    assert Tenants([Factory("acme")]).limit == MAX_TENANTS == 1000


# -- stores -------------------------------------------------------------------------------------
def test_a_store_is_built_only_when_first_read(acme, tenants):
    t = tenants.create()
    assert acme.built == 0 and "acme" not in t.stores and "acme" not in tenants.default.stores
    store = t.stores["acme"]
    assert acme.built == 1 and t.stores["acme"] is store  # once, then kept
    assert "other" not in t.stores  # the other vendor's is still not built
    tenants.default.stores["acme"]
    assert acme.built == 2


def test_a_vendor_not_served_has_no_store(tenants):
    with pytest.raises(KeyError):
        tenants.default.stores["nobody"]
    assert "nobody" not in tenants.default.stores


def test_reset_of_one_tenant_rebuilds_only_its_stores_when_next_read(acme, tenants):
    t = tenants.create()
    mine, theirs = t.stores["acme"], tenants.default.stores["acme"]
    mine["items"].append("x")
    theirs["items"].append("y")
    tenants.reset(t.id)
    assert acme.built == 2 and "acme" not in t.stores  # nothing built by the reset itself
    assert t.stores["acme"]["items"] == [] and t.stores["acme"] is not mine
    assert tenants.default.stores["acme"] is theirs and theirs["items"] == ["y"]


def test_reset_of_every_tenant_builds_nothing(acme, tenants):
    made = [tenants.create() for _ in range(5)]
    for t in [tenants.default, *made]:
        t.stores["acme"]["items"].append("x")
    built = acme.built
    tenants.reset()
    assert acme.built == built
    assert all(not t.stores for t in tenants)
    assert all(t.stores["acme"]["items"] == [] for t in tenants)


def test_reset_of_an_unknown_tenant_is_a_key_error(tenants):
    with pytest.raises(KeyError):
        tenants.reset("nobody")


def test_stores_on_their_own():
    acme = Factory("acme")
    stores = Stores({"acme": acme})
    assert stores == {} and acme.built == 0
    assert stores.get("acme") is None and acme.built == 0  # get() does not build
    assert stores["acme"] is stores["acme"] and acme.built == 1
