"""schemathesis against the OpenAPI document each vendor serves (GET /<vendor>/openapi.json),
in process through ASGI: positive and negative cases of every operation, sent with a valid
credential of the default tenant, a wrong one, none, or whatever schemathesis generated.

Per case: never a 5xx; the response conforms to the served document (status, content type,
headers, body schema); a rejected case (4xx) leaves the vendor's exported state as it was.
`MOCKSERVER_FUZZ_CASES` sets the cases per vendor (`make fuzz`: 10,000).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
import schemathesis
from hypothesis import given, strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from ..gravitec import hostile as gravitec_hints
from ..gravy import hostile as gravy_hints
from ..integry.conftest import APP_KEY, APP_SECRET, USER_ID, headers as integry_headers
from .harness import Fuzz, fuzz_settings

# Not run: positive_data_acceptance and negative_data_rejection: the served schemas are the
# documented shapes, looser than what the vendors check (a schema-valid key_id may be empty,
# a redirect_url must be a real URL, a function has its own required arguments, a valid id
# names no record), and the vendors accept fields their docs do not list, as the mock does;
# missing_required_header and ignored_auth send requests of their own, past the state check;
# use_after_free and ensure_resource_availability are stateful (a case here is one request).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
AUTH_HEADERS = ("authorization", "x-intent-token", "app-key", "user-id", "hash")


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _integry_valid(client) -> list[dict[str, str]]:
    return [integry_headers(), integry_headers("fuzz-user")]


def _passage_valid(client) -> list[dict[str, str]]:
    return [{"Authorization": "Bearer psg_sandbox_key"}]


VALID = {"gravy": gravy_hints.valid_headers, "gravitec": gravitec_hints.valid_headers,
         "integry": _integry_valid, "passage": _passage_valid}
# A credential of the right shape that the tenant does not hold.
WRONG = {"gravy": [{"Authorization": "Bearer not-a-token"},
                   {"Authorization": "Publishable pk-test-other"},
                   {"x-intent-token": "a.b.c"}],
         "gravitec": [_basic(gravitec_hints.APP_KEY, "wrong-secret"), _basic("", "")],
         "integry": [integry_headers(secret="wrong-secret"),
                     {"App-Key": APP_KEY, "User-ID": USER_ID}],
         "passage": [{"Authorization": "Bearer psg_not-a-key"},
                     {"Authorization": "Bearer a.jwt.token"}]}


def _integry_query(user: str) -> dict[str, str]:
    """Integry's credentials in the query (the SDK's other way)."""
    sig = hmac.new(APP_SECRET.encode(), user.encode(), hashlib.sha256).hexdigest()
    return {"app_key": APP_KEY, "user_id": user, "hash": sig}


def _gravy_names(client) -> dict[str, list[str]]:
    slugs = [i["slug"] for i in client.get("/gravy/integrations").json()]
    return {"slug": slugs, "integrationId": slugs}


def _integry_names(client) -> dict[str, list[str]]:
    def names(what: str) -> list[str]:
        r = client.post(f"/integry/{what}/list", headers=integry_headers())
        return [item["name"] for item in r.json()[what]]
    return {"app": names("apps"), "name": names("functions")}


# Catalogues that are no part of a tenant's state: where known names come from.
NAMES = {"gravy": _gravy_names, "integry": _integry_names}


@pytest.fixture(params=sorted(VALID))
def fuzz(request):
    f = Fuzz(request.param, VALID[request.param], NAMES.get(request.param, lambda c: {}))
    yield f
    f.close()


def test_openapi_cases_keep_the_invariants(fuzz, record_property):
    vendor = fuzz.vendor
    schema = schemathesis.openapi.from_asgi(f"/{vendor}/openapi.json", fuzz.app)
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE),
                      schema.as_strategy(GenerationMode.NEGATIVE))
    auth = st.sampled_from(["valid"] * 5 + ["wrong", "none", "generated"]
                           + (["query"] if vendor == "integry" else []))

    @fuzz_settings()
    @given(case=cases, how=auth, data=st.data())
    def run(case, how, data):
        before = fuzz.begin()
        # Body fields only where a shape is known (integrationId): the rest keep their types.
        body = {k: v for k, v in case.body.items() if k in fuzz.shaped} \
            if isinstance(case.body, dict) else {}
        for params in (case.path_parameters, case.query, body):
            for name in list(params or {}):
                value = fuzz.known_value(name, data)
                if value is not None:
                    params[name] = value
        if body:
            case.body = {**case.body, **body}
        if how != "generated":
            for name in list(case.headers or {}):
                if name.lower() in AUTH_HEADERS:
                    del case.headers[name]
            if how == "valid":
                case.headers.update(data.draw(st.sampled_from(fuzz.valid), label="credential"))
            elif how == "wrong":
                case.headers.update(data.draw(st.sampled_from(WRONG[vendor]), label="credential"))
            elif how == "query":
                case.query = {**(case.query or {}), **_integry_query(USER_ID)}
        response = case.call()
        fuzz.counts[f"auth {how}"] += 1
        mode = case.meta.generation.mode.value if case.meta else "?"
        fuzz.counts[f"{mode}"] += 1
        fuzz.end(before, response.status_code, 400 <= response.status_code < 500,
                 f"{case.method} {case.formatted_path} ({how} credentials)")
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    finally:
        fuzz.report(record_property)
