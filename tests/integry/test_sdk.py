"""The official Integry SDKs as the measure of the mock, against a real uvicorn process.

Python SDK: PyPI's `integry` 0.0.20 (`IntegryHQ/integry` `python/src/integry`, httpx +
pydantic), the newest release, pinned in the test extra. Every release from 0.0.5 on says
Requires-Python >=3.12, and every release, 0.0.1-0.0.4 too, uses PEP 695 syntax
(`def get_langchain_tool[T](...)`), so none imports on Python 3.11. So each test runs twice (the
`sdk` fixture's flavours): with `Port`, a line-by-line transcription of 0.0.20's wire behaviour
(paths, headers, bodies, query strings, paging loop, error mapping) and of its pydantic models'
requirements, on every Python; and with the real `integry.Integry`, which `make test-py313`
runs under Python 3.13 (where a skip of it is a failure). On 3.11 the real flavour skips.

What changed since 0.0.16, which this file transcribed before (read from both wheels):
- 0.0.18 dropped `functions.list(search=...)`: the query string has no `search` any more (the
  mock still serves it, for 0.0.16-0.0.17: tests/integry/test_catalogue.py).
- 0.0.18 dropped `credits` and `session_id` from a call's output: the SDK no longer reads the
  `X-Credits` and `X-Session-ID` headers (the mock still sends them, as the docs say).
- 0.0.18 added `integration_id=$INTEGRY_INTEGRATION_ID` to a call's query when that variable is
  set; 0.0.19 gave `call_sync` a `connected_account_id` (the `Function` object's `__call__` lost
  its own in 0.0.18); 0.0.20 put `allow_workspace_connected_accounts=true` back first in the
  query, where 0.0.16 had it.
- Paths, headers, bodies, the paging loop, error mapping and the models are otherwise as in
  0.0.16.

Node SDK: `nodejs/src` 1.0.3 (axios), reproduced with plain httpx in part 2.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib.metadata
import json
import os
import re
import sys
from datetime import datetime
from typing import Any, Iterator
from urllib.parse import urlencode

import httpx
import pytest

APP_KEY = "002d4f23-778a-11e7-bf2a-42010a8002c7"
APP_SECRET = "integry-sandbox-secret"
USER = "123456"
DOC_PROMPT = ("Send a message on Slack on random that contact just signed up! "
              "Include the contact's details.")
DOC_VARIABLES = {"first_name": "John", "last_name": "Doe"}
SLACK_PROPERTIES = {"channel", "attachments", "blocks", "text", "as_user", "icon_emoji",
                    "icon_url", "link_names", "metadata", "mrkdwn", "parse", "reply_broadcast",
                    "thread_ts", "unfurl_links", "unfurl_media", "username"}
INVALID_INPUT = ("Could not call the function due to invalid input. Please see `error_details` "
                 "for further information.")


def get_hash(app_secret: str, user_id: str) -> str:  # integry/utils/common.py
    return hmac.new(bytearray(app_secret, "utf-8"), bytearray(user_id, "utf-8"),
                    digestmod=hashlib.sha256).hexdigest()


# == the Python SDK 0.0.20, transcribed =========================================================
TRANSCRIBED = "0.0.20"  # the release Port follows and pyproject.toml pins


class NotFound(Exception):  # integry/exceptions.py
    pass


class FunctionCallError(Exception):
    def __init__(self, message: str, errors: list[str]):
        self.errors = errors
        super().__init__(message)

    def __str__(self) -> str:
        return super().__str__() + f"\nErrors: {self.errors}"


class ModelError(ValueError):
    """Where the SDK's pydantic model would raise a ValidationError."""


def _need(ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise ModelError(f"{what}: {value!r}")


def _positive_int(v: Any, what: str) -> int:  # PositiveInt (ints only: JSON ids are numbers)
    _need(type(v) is int and v > 0, what + " must be a positive integer", v)
    return v


def _str(v: Any, what: str) -> str:  # pydantic v2 `str`: no None, no number
    _need(isinstance(v, str), what + " must be a string", v)
    return v


def _lax_int(v: Any, what: str) -> int:  # `network_code: int` in lax mode: 200 or "200"
    if type(v) is int:
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    _need(isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v) is not None,
          what + " must convert to an integer", v)
    return int(v)


SCHEMA_TYPES = {"string", "number", "boolean", "null", "object", "array"}


def _schema(s: Any, where: str) -> None:
    """JSONSchemaType: a union discriminated by `type` (functions/types.py)."""
    _need(isinstance(s, dict) and isinstance(s.get("type"), str)
          and s["type"] in SCHEMA_TYPES, where + " needs a type the SDK allows", s)
    if s["type"] == "object":
        props = s.get("properties", {})
        _need(isinstance(props, dict), where + ".properties must be an object", props)
        for key, sub in props.items():
            _schema(sub, f"{where}.properties.{key}")
        required = s.get("required", [])
        _need(isinstance(required, list) and all(isinstance(r, str) for r in required),
              where + ".required must be a list of strings", required)
        extra = s.get("additionalProperties", True)
        if not isinstance(extra, bool):
            _schema(extra, where + ".additionalProperties")
    elif s["type"] == "array":
        items = s.get("items")
        for i, sub in enumerate(items if isinstance(items, list) else
                                [] if items is None else [items]):
            _schema(sub, f"{where}.items[{i}]")


class Model:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__!r})"


class ConnectedAccount(Model):
    @classmethod
    def parse(cls, d: dict[str, Any]) -> "ConnectedAccount":
        modified = d.get("modified_at")
        _need(isinstance(modified, str), "modified_at must be an ISO datetime", modified)
        try:
            when = datetime.fromisoformat(modified)
        except ValueError:
            raise ModelError(f"modified_at is not a datetime: {modified!r}") from None
        return cls(id=_positive_int(d.get("id"), "account id"),
                   display_name=_str(d.get("display_name"), "display_name"), modified_at=when)


class App(Model):  # apps/types.py: every field required, extra keys ignored
    @classmethod
    def parse(cls, d: dict[str, Any], **_: Any) -> "App":
        accounts = d.get("connected_accounts")
        _need(isinstance(accounts, list), "connected_accounts must be a list", accounts)
        allow = d.get("allow_multiple_connected_accounts")
        _need(isinstance(allow, bool), "allow_multiple_connected_accounts must be a bool", allow)
        return cls(id=_positive_int(d.get("id"), "app id"),
                   **{k: _str(d.get(k), k) for k in ("name", "title", "icon_url", "docs_url",
                                                     "login_url")},
                   allow_multiple_connected_accounts=allow,
                   connected_accounts=[ConnectedAccount.parse(a) for a in accounts])


class Function(Model):  # functions/types.py
    @classmethod
    def parse(cls, d: dict[str, Any], _resource: "PortFunctions") -> "Function":
        _schema(d.get("parameters"), "parameters")
        arguments = d.get("arguments", {})
        _need(isinstance(arguments, dict), "arguments must be an object", arguments)
        fn = cls(name=_str(d.get("name"), "name"),
                 description=_str(d.get("description"), "description"),
                 parameters=d["parameters"], arguments=arguments)
        fn._resource, fn._json_schema = _resource, dict(d)
        return fn

    def get_json_schema(self) -> dict[str, Any]:
        return self._json_schema

    async def __call__(self, user_id: str, arguments: dict[str, Any],
                       variables: dict[str, Any] | None = None) -> "FunctionCallOutput":
        return await self._resource.call(self.name, arguments, user_id, variables)


class FunctionCallOutput(Model):  # no credits or session_id since 0.0.18
    @classmethod
    def parse(cls, data: dict[str, Any]) -> "FunctionCallOutput":
        _need("output" in data, "output is required", data)
        out = cls(network_code=_lax_int(data.get("network_code"), "network_code"),
                  output=data["output"])
        if "_cursor" in data:  # PaginatedFunctionCallOutput: `cursor: str = Field(alias="_cursor")`
            out.cursor = _str(data["_cursor"], "_cursor of a paginated call")
        return out


class PortResource:  # resources/base.py
    def __init__(self, client: httpx.AsyncClient, app_key: str, app_secret: str,
                 name: str) -> None:
        self.http_client, self.app_key, self.app_secret, self.name = (client, app_key,
                                                                      app_secret, name)

    def _get_response_data_or_raise(self, response: httpx.Response) -> Any:
        if response.status_code == 404:
            data = response.json()
            raise NotFound(data.get("detail"))
        if response.status_code != 200:
            raise Exception(response.content)
        return response.json()

    def _get_signed_request_headers(self, user_id: str) -> dict[str, str]:
        return {"App-Key": self.app_key, "User-ID": user_id,
                "Hash": get_hash(self.app_secret, user_id)}


class PortPaginator:  # resources/base.py AsyncPaginator: `async for`, or `await` for one page
    def __init__(self, resource: PortResource, user_id: str, query_string: str, model: Any,
                 explicit_cursor: str = "") -> None:
        self._resource, self._user_id, self._query_string = resource, user_id, query_string
        self._data: list[Any] = []
        self._cursor: str | None = ""
        self._explicit_cursor, self._model = explicit_cursor, model

    def __aiter__(self) -> "PortPaginator":
        return self

    async def __anext__(self) -> Any:
        if not self._data and self._cursor is not None:
            self._data, self._cursor = await self._get_next_page(self._cursor)
        if not self._data:
            raise StopAsyncIteration
        return self._data.pop(0)

    def __await__(self):
        return self._get_data().__await__()

    async def _get_data(self) -> Model:
        data, cursor = await self._get_next_page(self._explicit_cursor)
        if cursor is None:
            cursor = ""
        _str(cursor, "cursor of a page")  # AppsPage/FunctionsPage `cursor: str`
        return Model(cursor=cursor, **{self._resource.name: data})

    async def _get_next_page(self, cursor: Any) -> tuple[list[Any], Any]:
        response = await self._resource.http_client.post(
            f"{self._resource.name}/list/{self._query_string}",
            headers=self._resource._get_signed_request_headers(self._user_id),
            json={"_cursor": cursor})
        data = self._resource._get_response_data_or_raise(response)
        records = [self._model.parse(r, _resource=self._resource)
                   for r in data.get(self._resource.name, [])]
        return records, data.get("_cursor")


class PortApps(PortResource):  # resources/apps/api.py
    def list(self, user_id: str, cursor: str = "") -> PortPaginator:
        return PortPaginator(self, user_id, "", App, explicit_cursor=cursor)

    async def get(self, app_name: str, user_id: str) -> App:
        response = await self.http_client.post(f"{self.name}/{app_name}/get/",
                                               headers=self._get_signed_request_headers(user_id))
        return App.parse(self._get_response_data_or_raise(response))

    async def is_connected(self, app_name: str, user_id: str) -> bool:
        response = await self.http_client.post(f"{self.name}/{app_name}/get/",
                                               headers=self._get_signed_request_headers(user_id))
        return len(App.parse(self._get_response_data_or_raise(response)).connected_accounts) > 0


class PortFunctions(PortResource):  # resources/functions/api.py
    def list(self, user_id: str, app: str | None = None, connected_only: bool | None = False,
             type: str | None = None, cursor: str = "",
             include: list[str] | None = None) -> PortPaginator:
        query = self._get_query_string(include, app, connected_only, type)
        return PortPaginator(self, user_id, query, Function, explicit_cursor=cursor)

    async def predict(self, prompt: str, user_id: str, variables: dict | None = None,
                      predict_arguments: bool = False, connected_only: bool | None = False,
                      include: list[str] | None = None) -> list[Function]:
        query = self._get_query_string(include, None, connected_only, None, predict_arguments)
        body: dict[str, Any] = {"prompt": prompt}
        if variables:
            body["_variables"] = variables
        response = await self.http_client.post(f"{self.name}/predict/{query}",
                                               headers=self._get_signed_request_headers(user_id),
                                               json=body)
        data = self._get_response_data_or_raise(response)
        return [Function.parse(f, _resource=self) for f in data.get("functions", [])]

    async def get(self, function_name: str, user_id: str, prompt: str = "",
                  variables: dict | None = None, include: list[str] | None = None) -> Function:
        query = self._get_query_string(include, None, None, None)
        body: dict[str, Any] = {}
        if prompt:
            body["prompt"] = prompt
        if variables:
            body["_variables"] = variables
        response = await self.http_client.post(f"{self.name}/{function_name}/get/{query}",
                                               headers=self._get_signed_request_headers(user_id),
                                               json=body)
        return Function.parse(self._get_response_data_or_raise(response), _resource=self)

    async def call(self, function_name: str, arguments: dict[str, Any], user_id: str,
                   variables: dict | None = None,
                   connected_account_id: int | None = None) -> FunctionCallOutput:
        if "cursor" in arguments:
            arguments["_cursor"] = arguments["cursor"]
        url = f"{self.name}/{function_name}/call/?" + self._call_query(connected_account_id)
        response = await self.http_client.post(url,
                                               headers=self._get_signed_request_headers(user_id),
                                               json={**arguments, "_variables": variables})
        return self._output(response)

    def call_sync(self, function_name: str, arguments: dict[str, Any], user_id: str,
                  variables: dict | None = None,
                  connected_account_id: int | None = None) -> FunctionCallOutput:
        if "cursor" in arguments:
            arguments["_cursor"] = arguments["cursor"]
        response = httpx.post(  # str(base_url) ends in "/": the SDK really sends `//functions`
            f"{self.http_client.base_url}/{self.name}/{function_name}/call/?"
            + self._call_query(connected_account_id),
            headers=self._get_signed_request_headers(user_id),
            json={**arguments, "_variables": variables})
        return self._output(response)

    @staticmethod
    def _call_query(connected_account_id: int | None) -> str:  # call's and call_sync's, alike
        params = ["allow_workspace_connected_accounts=true"]
        integration_id = os.environ.get("INTEGRY_INTEGRATION_ID")
        if integration_id:
            params.append(f"integration_id={integration_id}")
        if connected_account_id is not None:
            params.append(f"connected_account_id={connected_account_id}")
        return "&".join(params)

    def _output(self, response: httpx.Response) -> FunctionCallOutput:
        if response.status_code == 400:
            data = response.json()
            details = data.get("error_details")
            errors: list[str] = []
            if isinstance(details, dict):
                errors = [f"{key}: {value}" for key, value in details.items()]
            elif isinstance(details, list):
                errors = details
            raise FunctionCallError("Failed to call the function.\nDetails: "
                                    + ", ".join(errors), errors=errors)
        return FunctionCallOutput.parse(self._get_response_data_or_raise(response))

    @staticmethod
    def _get_query_string(include, app, connected_only, type, predict_arguments=False) -> str:
        params: dict[str, Any] = {}
        if include:
            params["include"] = ",".join(include)
        if app:
            params["app"] = app
        if connected_only:
            params["connected_only"] = connected_only  # urlencode: "True"
        if type:
            params["type"] = type
        if predict_arguments:
            params["predict_arguments"] = "true"
        query = urlencode(params, doseq=False)
        return f"?{query}" if query else ""


class Port(httpx.AsyncClient):  # client.py
    def __init__(self, app_key: str, app_secret: str, *args: Any, **kwargs: Any) -> None:
        if not app_key:
            raise Exception("app_key must be provided when initializing Integry")
        if not app_secret:
            raise Exception("app_secret must be provided when initializing Integry")
        self.app_key, self.app_secret = app_key, app_secret
        self.functions = PortFunctions(self, app_key, app_secret, "functions")
        self.apps = PortApps(self, app_key, app_secret, "apps")
        super().__init__(*args, **kwargs, base_url="https://api.integry.io", timeout=30)


def _real_sdk() -> tuple[Any, str]:
    """(the integry package, "") where the release Port transcribes is installed; else
    (None, why). Installed but failing to import is an error, not a skip."""
    if sys.version_info < (3, 12):
        return None, ("every integry release needs Python >= 3.12 (make test-py313 runs these "
                      "tests under 3.13)")
    try:
        version = importlib.metadata.version("integry")
    except importlib.metadata.PackageNotFoundError:
        return None, "the integry package is not installed: pip install -e '.[test]'"
    if version != TRANSCRIBED:  # the tests assert what this one release sends and reads
        return None, (f"integry {version} is installed; these tests follow {TRANSCRIBED}, "
                      "which the test extra pins: pip install -e '.[test]'")
    import integry
    return integry, ""


def _real_sdk_required() -> bool:
    """make test-py313 says so (it installs the SDK, and running it is what that run is for),
    and so does CI on a Python the SDK supports: there a skip would hide that it never ran."""
    ci = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes", "on")
    return os.environ.get("MOCKSERVER_REAL_SDK") == "1" or (ci and sys.version_info >= (3, 12))


# == fixtures ====================================================================================
class Sdk:
    """One flavour's client, exceptions, and the requests/responses it exchanged."""

    def __init__(self, flavour: str, base: str, app_key: str, app_secret: str) -> None:
        self.flavour = flavour
        if flavour == "integry":
            integry, _ = _real_sdk()
            from integry.exceptions import FunctionCallError as FCE, NotFound as NF
            self.client = integry.Integry(app_key=app_key, app_secret=app_secret)
            self.NotFound, self.FunctionCallError = NF, FCE
            self.ModelError: Any = ValueError  # pydantic's ValidationError is a ValueError
        else:
            self.client = Port(app_key, app_secret)
            self.NotFound, self.FunctionCallError, self.ModelError = (NotFound,
                                                                      FunctionCallError,
                                                                      ModelError)
        # the SDK fixes base_url=https://api.integry.io in its constructor; point it here
        self.client.base_url = base
        self.sent: list[httpx.Request] = []
        self.received: list[httpx.Response] = []

        async def on_request(request: httpx.Request) -> None:
            self.sent.append(request)

        async def on_response(response: httpx.Response) -> None:
            await response.aread()
            self.received.append(response)

        self.client.event_hooks = {"request": [on_request], "response": [on_response]}

    @property
    def apps(self) -> Any:
        return self.client.apps

    @property
    def functions(self) -> Any:
        return self.client.functions

    def run(self, coro: Any) -> Any:
        async def go() -> Any:
            try:
                return await coro
            finally:
                await self.client.aclose()
        return asyncio.run(go())


FLAVOURS = ["port", "integry"]


@pytest.fixture(params=FLAVOURS)
def flavour(request) -> str:
    if request.param == "integry":
        integry, why = _real_sdk()
        if integry is None:
            if _real_sdk_required():
                pytest.fail(f"the real SDK must run here: {why}")
            pytest.skip(why)
    return request.param


@pytest.fixture
def sdk(live, flavour) -> Sdk:
    """An SDK client of the default (sandbox) credentials: for reads only."""
    return Sdk(flavour, live.url + "/integry", APP_KEY, APP_SECRET)


@contextlib.contextmanager
def fresh_tenant(live) -> Iterator[dict[str, str]]:
    r = live.http.post("/__admin/tenants")
    assert r.status_code == 201, r.text
    tenant = r.json()
    try:
        yield tenant["credentials"]["integry"]
    finally:
        assert live.http.delete(f"/__admin/tenants/{tenant['id']}").status_code == 204


@pytest.fixture
def tenant_sdk(live, flavour) -> Iterator[Sdk]:
    """An SDK client of a tenant of its own: for anything that changes state."""
    with fresh_tenant(live) as creds:
        yield Sdk(flavour, live.url + "/integry", creds["appKey"], creds["appSecret"])


async def collect(paginator: Any, limit: int = 10_000) -> list[Any]:
    items = []
    async for item in paginator:
        items.append(item)
        assert len(items) <= limit, "the SDK's iterator never stopped"
    return items


# == 1. the Python SDK ============================================================================
def test_apps_list_iterates_to_the_end(sdk):
    apps = sdk.run(collect(sdk.apps.list(USER), limit=2000))
    names = [a.name for a in apps]
    assert len(apps) >= 120
    assert len(set(names)) == len(names), "an app came twice"
    assert len({a.id for a in apps}) == len(apps)
    pages = [r.json() for r in sdk.received]
    assert all(r.status_code == 200 for r in sdk.received)
    assert [len(p["apps"]) for p in pages[:-1]] == [50] * (len(pages) - 1)
    assert 0 < len(pages[-1]["apps"]) <= 50 and pages[-1]["_cursor"] is None
    assert all(isinstance(p["_cursor"], str) and p["_cursor"] for p in pages[:-1])
    # what the SDK sent: trailing slash, the cursor in the JSON body, "" first
    assert {r.url.path for r in sdk.sent} == {"/integry/apps/list/"}
    assert json.loads(sdk.sent[0].content) == {"_cursor": ""}
    pipedrive = next(a for a in apps if a.name == "pipedrive")
    assert pipedrive.id == 410 and [a.id for a in pipedrive.connected_accounts] == [247714]


def test_apps_manual_paging_gives_the_same_apps(sdk):
    async def walk() -> tuple[list[str], list[str]]:
        names, cursors, cursor = [], [], ""
        for _ in range(100):
            page = await sdk.apps.list(USER, cursor=cursor)
            names += [a.name for a in page.apps]
            cursors.append(page.cursor)
            if not page.cursor:
                return names, cursors
            cursor = page.cursor
        raise AssertionError("manual paging never ended")

    names, cursors = sdk.run(walk())
    assert len(names) >= 120 and len(set(names)) == len(names)
    assert cursors[-1] == ""  # the SDK turns the last page's null into ""


def test_apps_connected_only(live):
    headers = {"App-Key": APP_KEY, "User-ID": USER, "Hash": get_hash(APP_SECRET, USER)}
    for value in ("true", "True"):
        r = live.request("POST", "/integry/apps/list/", params={"connected_only": value},
                         headers=headers, json={"_cursor": ""})
        assert r.status_code == 200, r.text
        assert "pipedrive" in [a["name"] for a in r.json()["apps"]]
        assert all(a["connected_accounts"] for a in r.json()["apps"])


def test_get_app(sdk):
    async def go() -> None:
        slack = await sdk.apps.get("slack", USER)
        assert (slack.id, slack.name, slack.title) == (491, "slack", "Slack")
        assert slack.icon_url.endswith("c53aa5ce-1ced-48cb-98cc-8859eb8bf85d.png")
        assert slack.docs_url == "" and isinstance(slack.login_url, str)
        pipedrive = await sdk.apps.get("pipedrive", USER)
        account = pipedrive.connected_accounts[0]
        assert (account.id, account.display_name) == (247714, "663----------8b1")
        assert account.modified_at.isoformat().startswith("2024-11-10T23:28:58")
        assert await sdk.apps.is_connected("pipedrive", USER) is True
        with pytest.raises(sdk.NotFound) as e:
            await sdk.apps.get("no-such-app", USER)
        assert str(e.value) == "App not found"

    sdk.run(go())
    # apps.get sends no body at all
    assert all(r.content == b"" and "content-type" not in r.headers for r in sdk.sent)
    assert sdk.sent[0].url.path == "/integry/apps/slack/get/"


def test_functions_list_to_the_end(sdk):
    async def go() -> dict[str, Any]:
        everything = await collect(sdk.functions.list(USER))
        apps = await collect(sdk.apps.list(USER))
        return {
            "all": everything, "apps": apps,
            "hubspot_actions": await collect(sdk.functions.list(USER, app="hubspot",
                                                                type="ACTION")),
            "hubspot_queries": await collect(sdk.functions.list(USER, app="hubspot",
                                                                type="QUERY")),
            "passthrough": await collect(sdk.functions.list(USER, type="PASSTHROUGH")),
            "connected": await collect(sdk.functions.list(USER, connected_only=True)),
            "meta": await collect(sdk.functions.list(USER, app="slack", include=["meta"])),
        }

    got = sdk.run(go())
    names = [f.name for f in got["all"]]
    assert len(set(names)) == len(names), "a function came twice"
    for app in got["apps"]:
        assert f"{app.name}-passthrough-request" in names
    assert {"hubspot-create-contact", "hubspot-create-company",
            "hubspot-create-deal"} <= {f.name for f in got["hubspot_actions"]}
    assert all(f.name.startswith("hubspot-") for f in got["hubspot_actions"])
    queries = {f.name for f in got["hubspot_queries"]}
    assert queries and all(n.startswith("hubspot-") for n in queries)
    assert not queries & {f.name for f in got["hubspot_actions"]}
    assert {f.name for f in got["passthrough"]} == {f"{a.name}-passthrough-request"
                                                   for a in got["apps"]}
    connected = {f.name for f in got["connected"]}
    assert "pipedrive-passthrough-request" in connected
    assert "hubspot-create-contact" not in connected
    assert "slack-post-message" in {f.name for f in got["meta"]}
    # the SDK's spelling of its filters
    sent = [str(r.url) for r in sdk.sent]
    assert any("connected_only=True" in u for u in sent)
    assert any("/functions/list/?app=hubspot&type=ACTION" in u for u in sent)


def test_get_function_with_and_without_prompt(sdk):
    async def go() -> tuple[Any, Any]:
        plain = await sdk.functions.get("slack-post-message", USER)
        predicted = await sdk.functions.get("slack-post-message", USER, prompt=DOC_PROMPT,
                                            variables=DOC_VARIABLES)
        with pytest.raises(sdk.NotFound) as e:
            await sdk.functions.get("no-such-function", USER)
        assert str(e.value) == "Function not found"
        return plain, predicted

    plain, predicted = sdk.run(go())
    assert plain.name == "slack-post-message"
    assert plain.description == "Post a message in a channel"
    schema = plain.get_json_schema()
    assert schema["parameters"]["required"] == ["channel", "text"]
    assert set(schema["parameters"]["properties"]) == SLACK_PROPERTIES
    assert plain.arguments == {}
    assert predicted.arguments["channel"] == "random"
    assert "{first_name}" in predicted.arguments["text"]
    assert "{last_name}" in predicted.arguments["text"]
    assert json.loads(sdk.sent[0].content) == {}  # no prompt: the SDK sends an empty object


def test_predict_the_documented_example(sdk):
    async def go() -> tuple[list[Any], list[Any]]:
        with_args = await sdk.functions.predict(DOC_PROMPT, USER, variables=DOC_VARIABLES,
                                                predict_arguments=True)
        without = await sdk.functions.predict(DOC_PROMPT, USER)
        return with_args, without

    with_args, without = sdk.run(go())
    assert [f.name for f in with_args] == ["slack-post-message"]
    args = with_args[0].arguments
    assert args["channel"] == "random"
    assert "{first_name}" in args["text"] and "{last_name}" in args["text"]
    assert [f.name for f in without] == ["slack-post-message"]
    assert without[0].arguments == {}
    assert str(sdk.sent[0].url).endswith("/integry/functions/predict/?predict_arguments=true")
    assert str(sdk.sent[1].url).endswith("/integry/functions/predict/")


def test_predict_with_an_empty_prompt_is_a_bare_exception(sdk):
    with pytest.raises(Exception) as e:
        sdk.run(sdk.functions.predict("", USER))
    assert not isinstance(e.value, (sdk.NotFound, sdk.FunctionCallError))
    response = sdk.received[-1]
    assert response.status_code == 400
    assert response.json() == {"prompt": "Must be a non-empty string"}
    assert e.value.args[0] == response.content


def test_call_slack_post_message_with_variables(tenant_sdk):
    sdk = tenant_sdk
    text = "{first_name} {last_name} just signed up!"

    async def go() -> tuple[Any, Any]:
        direct = await sdk.functions.call("slack-post-message",
                                          {"channel": "random", "text": text}, USER,
                                          variables=DOC_VARIABLES)
        fn = await sdk.functions.get("slack-post-message", USER)
        via_function = await fn(USER, {"channel": "random", "text": "Hi {first_name}"},
                                DOC_VARIABLES)
        return direct, via_function

    direct, via_function = sdk.run(go())
    assert direct.network_code == 200
    assert direct.output["ok"] is True
    assert direct.output["message"]["text"] == "John Doe just signed up!"
    assert via_function.output["message"]["text"] == "Hi John"
    # 0.0.18 on, the SDK's output drops the call's headers; the docs still give every call them
    assert not hasattr(direct, "credits") and not hasattr(direct, "session_id")
    answer = sdk.received[0]
    assert int(answer.headers["X-Credits"]) >= 0 and answer.headers["X-Session-ID"]
    call = sdk.sent[0]
    assert call.url.path == "/integry/functions/slack-post-message/call/"
    assert str(call.url).endswith("/call/?allow_workspace_connected_accounts=true")


def test_call_sync_through_the_sdks_double_slash(tenant_sdk):
    sdk = tenant_sdk
    out = sdk.functions.call_sync("slack-post-message", {"channel": "random", "text": "sync"},
                                  USER)  # `_variables: null`, and `.../integry//functions/...`
    assert out.network_code == 200 and out.output["message"]["text"] == "sync"
    # its own connected_account_id (0.0.19 on): the user's Pipedrive account
    out = sdk.functions.call_sync("pipedrive-passthrough-request",
                                  {"method": "GET", "url": "https://api.pipedrive.com/v1/users/me"},
                                  USER, connected_account_id=247714)
    assert out.network_code == 200
    sdk.run(asyncio.sleep(0))  # closes the (unused) async client


def test_call_without_variables_sends_null_and_works(tenant_sdk):
    sdk = tenant_sdk
    out = sdk.run(sdk.functions.call("pipedrive-passthrough-request",
                                     {"method": "GET",
                                      "url": "https://api.pipedrive.com/v1/users/me"}, USER,
                                     connected_account_id=247714))
    assert out.network_code == 200
    assert json.loads(sdk.sent[0].content)["_variables"] is None
    assert sdk.sent[0].url.params["connected_account_id"] == "247714"


def test_call_with_the_integration_id_variable(tenant_sdk, monkeypatch):
    """INTEGRY_INTEGRATION_ID (0.0.18 on) adds `integration_id` to every call's query, between
    the workspace flag and connected_account_id. The docs never name it; the mock, as a DRF view
    with no such field, ignores it."""
    sdk = tenant_sdk
    monkeypatch.setenv("INTEGRY_INTEGRATION_ID", "8421")
    out = sdk.run(sdk.functions.call("pipedrive-passthrough-request",
                                      {"method": "GET",
                                       "url": "https://api.pipedrive.com/v1/users/me"}, USER,
                                      connected_account_id=247714))
    assert out.network_code == 200
    assert str(sdk.sent[0].url).endswith(
        "/call/?allow_workspace_connected_accounts=true&integration_id=8421"
        "&connected_account_id=247714")
    out = sdk.functions.call_sync("slack-post-message", {"channel": "random", "text": "id"}, USER)
    assert out.network_code == 200 and out.output["message"]["text"] == "id"


def test_paginated_call_walks_to_the_end(tenant_sdk):
    sdk = tenant_sdk

    async def go() -> list[Any]:
        outputs = [await sdk.functions.call("pipedrive-list-records", {}, USER)]
        for _ in range(50):
            cursor = getattr(outputs[-1], "cursor", "")
            if not cursor:
                return outputs
            outputs.append(await sdk.functions.call("pipedrive-list-records",
                                                    {"_cursor": cursor}, USER))
        raise AssertionError("the cursor never ran out")

    outputs = sdk.run(go())
    assert outputs[0].network_code == 200
    assert hasattr(outputs[0], "cursor")  # a paginated function answers with a `_cursor`


def test_call_errors_are_the_sdks_exceptions(tenant_sdk):
    sdk = tenant_sdk

    async def go() -> None:
        with pytest.raises(sdk.FunctionCallError) as e:
            await sdk.functions.call("slack-post-message", {"text": "no channel"}, USER)
        assert e.value.errors == ["channel: This parameter is required and must not be null "
                                  "or empty"]
        assert "Failed to call the function." in str(e.value)

        hubspot = await sdk.apps.get("hubspot", USER)
        assert hubspot.connected_accounts == []
        with pytest.raises(sdk.FunctionCallError) as e:
            await sdk.functions.call("hubspot-create-contact",
                                     {"properties": {"email": "ada@example.com"}}, USER)
        assert e.value.errors == [
            f"User has not connected their {hubspot.title} account. To connect an account, "
            "please call following SDK method: `connectApp('hubspot')`"]

        with pytest.raises(sdk.NotFound) as e:
            await sdk.functions.call("no-such-function", {}, USER)
        assert str(e.value) == "Function not found"

    sdk.run(go())
    bodies = [r.json() for r in sdk.received if r.status_code == 400]
    assert bodies[0] == {"error": INVALID_INPUT, "error_details": {
        "channel": "This parameter is required and must not be null or empty"}}
    assert isinstance(bodies[1]["error_details"], list) and bodies[1]["error"]


def test_wrong_secret_is_a_bare_exception(live, flavour):
    sdk = Sdk(flavour, live.url + "/integry", APP_KEY, "not-the-secret")
    with pytest.raises(Exception) as e:
        sdk.run(sdk.apps.get("slack", USER))
    assert sdk.received[-1].status_code == 403
    assert sdk.received[-1].json() == {"detail": "Incorrect authentication credentials."}
    assert e.value.args[0] == sdk.received[-1].content


def test_the_real_host(live):
    """The SDK's own base URL, https://api.integry.io, is this server under that Host."""
    r = live.request("POST", "/apps/slack/get/",
                     headers={"Host": "api.integry.io", "App-Key": APP_KEY, "User-ID": USER,
                              "Hash": get_hash(APP_SECRET, USER)})
    assert r.status_code == 200 and r.json()["name"] == "slack"


# == 2. the Node SDK's wire style (nodejs/src, integry 1.0.3, axios) =============================
def node(live, path: str, user: str = USER, secret: str = APP_SECRET, key: str = APP_KEY,
         params: dict[str, Any] | None = None, data: Any = None) -> httpx.Response:
    """ApiClient.makeRequest: the auth "headers" are appended to the URL as query parameters
    (and still sent as headers named app_key/user_id/hash); axios then appends `params`
    (booleans as true/false) and sends `data` as JSON, with undefined fields dropped."""
    auth = {"app_key": key, "user_id": user, "hash": get_hash(secret, user)}
    query = {**auth, **{k: (str(v).lower() if isinstance(v, bool) else v)
                        for k, v in (params or {}).items() if v is not None}}
    headers = {"Accept": "application/json, text/plain, */*", **auth}
    if data is not None:
        data = {k: v for k, v in data.items() if v is not None}
        return live.request("POST", "/integry" + path, params=query, headers=headers,
                            json=data)
    return live.request("POST", "/integry" + path, params=query, headers=headers)


def test_node_apps_list_with_cursor_query_params(live):
    names: list[str] = []
    cursor = ""
    for _ in range(100):
        r = node(live, "/apps/list", params={"_cursor": cursor or None})
        assert r.status_code == 200, r.text
        names += [a["name"] for a in r.json()["apps"]]
        cursor = r.json()["_cursor"] or None  # `response.data._cursor || null`
        if not cursor:
            break
    assert len(names) >= 120 and len(set(names)) == len(names)
    r = node(live, "/apps/list", params={"connected_only": True})
    assert "pipedrive" in [a["name"] for a in r.json()["apps"]]


def test_node_apps_get(live):
    r = node(live, "/apps/pipedrive/get")
    assert r.status_code == 200
    assert r.json()["connected_accounts"][0]["id"] == 247714
    r = node(live, "/apps/no-such-app/get")
    assert r.status_code == 404 and r.json() == {"detail": "App not found"}


def test_node_functions_list_get_predict(live):
    r = node(live, "/functions/list", params={"app": "hubspot", "type": "ACTION"})
    assert r.status_code == 200
    assert {"hubspot-create-contact", "hubspot-create-company", "hubspot-create-deal"} <= {
        f["name"] for f in r.json()["functions"]}
    # get: always {prompt, _variables}, JSON.stringify drops the undefined ones
    r = node(live, "/functions/slack-post-message/get", data={"prompt": None,
                                                               "_variables": None})
    assert r.status_code == 200 and r.json()["name"] == "slack-post-message"
    assert "arguments" not in r.json() or r.json()["arguments"] == {}
    r = node(live, "/functions/slack-post-message/get",
             data={"prompt": DOC_PROMPT, "_variables": DOC_VARIABLES})
    assert r.status_code == 200 and r.json()["arguments"]["channel"] == "random"
    r = node(live, "/functions/predict", params={"predict_arguments": True},
             data={"prompt": DOC_PROMPT, "_variables": DOC_VARIABLES})
    assert r.status_code == 200
    [fn] = r.json()["functions"]
    assert fn["name"] == "slack-post-message" and fn["arguments"]["channel"] == "random"
    assert "{first_name}" in fn["arguments"]["text"]
    r = node(live, "/functions/no-such-function/get", data={})
    assert r.status_code == 404 and r.json() == {"detail": "Function not found"}


def test_node_call(live):
    with fresh_tenant(live) as creds:
        r = node(live, "/functions/pipedrive-passthrough-request/call",
                 key=creds["appKey"], secret=creds["appSecret"],
                 params={"connected_account_id": "247714"},
                 data={"method": "GET", "url": "https://api.pipedrive.com/v1/users/me",
                       "_variables": None})
        assert r.status_code == 200, r.text
        assert r.json()["network_code"] == "200"
        assert int(r.headers["X-Credits"]) >= 0 and r.headers["X-Session-ID"]
        r = node(live, "/functions/slack-post-message/call", key=creds["appKey"],
                 secret=creds["appSecret"], data={"text": "no channel"})
        assert r.status_code == 400 and r.json()["error"] == INVALID_INPUT


def test_node_auth_errors(live):
    r = node(live, "/apps/slack/get", secret="not-the-secret")
    assert r.status_code == 403
    assert r.json() == {"detail": "Incorrect authentication credentials."}
    r = live.request("POST", "/integry/apps/slack/get")
    assert r.status_code in (401, 403)
    assert r.json() == {"detail": "Authentication credentials were not provided."}
