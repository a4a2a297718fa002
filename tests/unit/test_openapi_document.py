"""The OpenAPI documents: valid 3.1, complete against the app's routes and the problem table.

Two documents: the public one at /openapi.json, and the operators' one at /ops/openapi.json
(the ops page is not part of the public contract). Tests marked with the `doc` fixture run
over both.
"""
import json
import re

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from web.openapi import ops as openapi_ops
from web.openapi import public as openapi
from web.problems import INTERNAL, PROBLEMS
from webhooks import urls

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
PUBLIC = {("post", "/v1/users"), ("post", "/v1/auth/token"), ("get", "/healthz"),
          ("get", "/readyz"), ("get", "/openapi.json"), ("get", "/docs"),
          ("get", "/docs/redoc.standalone.js"), ("get", "/metrics")}
OPS_PUBLIC = {("get", "/ops/login"), ("post", "/ops/login")}
# Public, yet a wrong password or ops token is a 401.
LOGINS = {("post", "/v1/auth/token"), ("post", "/ops/login")}
OPS_SECURITY = [{"opsToken": []}, {"opsSession": []}]
IDEMPOTENT = {("post", "/v1/wallets"), ("post", "/v1/wallets/{wallet_id}/deposits"),
              ("post", "/v1/wallets/{wallet_id}/withdrawals"), ("post", "/v1/transfers"),
              ("post", "/v1/wallets/{wallet_id}/holds"), ("post", "/v1/holds/{hold_id}/captures"),
              ("post", "/v1/holds/{hold_id}/void"), ("post", "/v1/requests/{request_id}/refunds"),
              ("post", "/v1/webhooks")}
PAGED = {"/v1/me/logins", "/v1/wallets/{wallet_id}/transactions", "/v1/requests",
         "/v1/notifications", "/v1/holds", "/v1/webhooks/{webhook_id}/deliveries"}


@pytest.fixture(scope="module", params=["public", "ops"])
def doc(request) -> dict:
    return openapi.document() if request.param == "public" else openapi_ops.document()


@pytest.fixture(scope="module")
def public() -> dict:
    return openapi.document()


@pytest.fixture(scope="module")
def ops_doc() -> dict:
    return openapi_ops.document()


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method, path, op


def deref(doc: dict, node: dict) -> dict:
    """Follow local `$ref`s to the object they name."""
    while isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_the_documents_are_built_once_and_cached():
    assert openapi.document() is openapi.document()
    assert openapi_ops.document() is openapi_ops.document()


def test_the_document_is_plain_json(doc):
    assert json.loads(json.dumps(doc)) == doc


def test_every_route_of_the_app_is_documented_in_exactly_one_document(public, ops_doc):
    import api  # needs settings from the environment, so imported here

    routes = {(route.method.lower(), re.sub(r"<(\w+)[^>]*>", r"{\1}", route.rule))
              for route in api.app.app.routes}
    in_public = {(method, path) for method, path, _ in operations(public)}
    in_ops = {(method, path) for method, path, _ in operations(ops_doc)}
    assert all(p.startswith("/ops") for _, p in in_ops)
    assert not any(p.startswith("/ops") for _, p in in_public)
    documented = in_public | in_ops
    assert routes - documented == set()
    assert documented - routes == set()


def test_the_service_endpoints_are_documented(public):
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"):
        assert "get" in public["paths"][path]
    assert "text/html" in public["paths"]["/docs"]["get"]["responses"]["200"]["content"]
    assert "text/plain" in public["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(public["paths"]["/readyz"]["get"]["responses"]) >= {"200", "503"}


def test_every_problem_code_of_the_contract_is_documented(public, ops_doc):
    # (bad_request is waitress's own refusal of a request it cannot parse: no operation's)
    codes = ({code for _, code, _ in PROBLEMS.values()} | {INTERNAL[1]}) - {"bad_request"}
    problem_responses = [response for response in public["components"]["responses"].values()]
    for doc in (public, ops_doc):
        for _, _, op in operations(doc):
            problem_responses += [deref(doc, r) for r in op["responses"].values()]
    text = json.dumps([r for r in problem_responses
                       if "application/problem+json" in r.get("content", {})])
    assert [code for code in sorted(codes) if f'"{code}"' not in text] == []


def test_every_operation_has_a_unique_snake_case_id_a_summary_and_a_tag(doc):
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", op_id) for op_id in ids)
    for _, _, op in operations(doc):
        assert op["summary"] and op["tags"][0] in {
            "users", "auth", "wallets", "money", "holds", "requests", "notifications",
            "events", "service", "ops"}


def test_only_the_public_endpoints_need_no_token(public):
    assert public["security"] == [{"bearerAuth": []}]
    open_ = {(m, p) for m, p, op in operations(public) if op.get("security") == []}
    assert open_ == PUBLIC
    for method, path, op in operations(public):
        assert ("401" in op["responses"]) == ((method, path) not in PUBLIC
                                               or (method, path) in LOGINS)


def test_the_ops_pages_take_the_ops_token_or_its_session_and_never_a_users_token(ops_doc):
    doc = ops_doc
    ops = list(operations(doc))
    assert len(ops) == 13
    assert doc["security"] == OPS_SECURITY
    for method, path, op in ops:
        assert op["tags"] == ["ops"]
        assert op.get("security") == ([] if (method, path) in OPS_PUBLIC else OPS_SECURITY)
        assert ("401" in op["responses"]) == ((method, path) not in OPS_PUBLIC
                                               or (method, path) in LOGINS)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["opsToken"] == {**schemes["opsToken"], "type": "http", "scheme": "bearer"}
    assert (schemes["opsSession"]["in"], schemes["opsSession"]["name"]) == \
        ("cookie", "wallet_ops_session")
    assert "text/html" in doc["paths"]["/ops"]["get"]["responses"]["200"]["content"]


def test_idempotent_posts_require_the_idempotency_key_header(doc):
    for method, path, op in operations(doc):
        params = [deref(doc, p) for p in op["parameters"]]
        keyed = [p for p in params if p["name"] == "Idempotency-Key"]
        if (method, path) in IDEMPOTENT:
            assert keyed[0]["required"] is True and keyed[0]["in"] == "header"
            assert keyed[0]["schema"]["minLength"] == 1 and keyed[0]["schema"]["maxLength"] == 255
            success = deref(doc, op["responses"]["201" if path in ("/v1/wallets", "/v1/webhooks")
                                                 else "202"])
            assert {"Location", "Idempotent-Replayed", "X-Request-Id"} <= set(success["headers"])
        else:
            assert keyed == []


def test_every_paged_list_takes_limit_and_cursor(doc):
    for _, path, op in operations(doc):
        names = {deref(doc, p)["name"] for p in op["parameters"]}
        assert ({"limit", "cursor"} <= names) == (path in PAGED)
    limit = doc["components"]["parameters"]["Limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)


def test_request_bodies_are_closed_objects_with_required_fields(doc):
    for _, path, op in operations(doc):
        if "requestBody" in op:
            # JSON everywhere; the ops page's HTML forms are url-encoded
            media = "application/x-www-form-urlencoded" if path.startswith("/ops") \
                else "application/json"
            assert list(op["requestBody"]["content"]) == [media]
            schema = deref(doc, op["requestBody"]["content"][media]["schema"])
            assert schema["additionalProperties"] is False and "required" in schema


def test_every_response_carries_a_request_id_and_errors_are_problems(doc):
    for _, path, op in operations(doc):
        for status, response in op["responses"].items():
            response = deref(doc, response)
            assert "X-Request-Id" in response["headers"], status
            if status.startswith(("4", "5")) and (path, status) != ("/readyz", "503"):
                # the ops page shows a browser its errors as HTML (a 401 as its login form)
                assert list(response["content"]) == ["application/problem+json"] + (
                    ["text/html"] if path.startswith("/ops") else [])


def test_every_example_matches_its_schema(doc):
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))
    checked = 0

    def walk(node, pointer: str) -> None:
        nonlocal checked
        if isinstance(node, dict):
            if "schema" in node and "examples" in node:
                validator = jsonschema.Draft202012Validator(
                    {"$ref": f"urn:openapi#{pointer}/schema"}, registry=registry)
                for example in node["examples"].values():
                    validator.validate(example["value"])
                    checked += 1
            for key, value in node.items():
                walk(value, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(doc, "")
    assert checked > (40 if doc["info"]["title"] == "Wallet service API" else 10)


# -- links ------------------------------------------------------------------------------
EXPRESSION = re.compile(r"\$(request|response)\.body#/([a-z_]+)")
# The walk a client (and the stateful fuzzer) takes: sign up and log in; open a wallet and
# use it; every money movement leads to its request.
CHAIN = {("sign_up", "issue_token"), ("create_wallet", "get_wallet"),
         ("create_wallet", "delete_wallet"), ("create_wallet", "list_wallet_transactions"),
         ("create_wallet", "create_deposit"), ("create_wallet", "create_withdrawal"),
         ("create_wallet", "create_transfer"), ("create_deposit", "get_request"),
         ("create_withdrawal", "get_request"), ("create_transfer", "get_request")}


def links(doc: dict):
    """(source operation, status, link name, link) for every link of the document."""
    for _, _, op in operations(doc):
        for status, response in op["responses"].items():
            for name, link in deref(doc, response).get("links", {}).items():
                yield op, status, name, link


def body_properties(doc: dict, op: dict, status: str | None = None) -> set[str]:
    """The top-level fields of an operation's JSON request body, or of one answer's."""
    holder = op.get("requestBody", {}) if status is None else deref(doc, op["responses"][status])
    schema = deref(doc, holder.get("content", {}).get("application/json", {}).get("schema", {}))
    return set(schema.get("properties", {}))


def test_every_link_names_an_operation_and_what_it_fills_exists(public):
    by_id = {op["operationId"]: op for _, _, op in operations(public)}
    found = list(links(public))
    assert len(found) >= 10
    for source, status, name, link in found:
        # Then the target is an operation of the document, named by id (3.1 Link Object)
        assert set(link) <= {"operationId", "parameters", "requestBody", "description"}, name
        target = by_id[link["operationId"]]
        # And each parameter it fills is one of the target's, by name
        params = {deref(public, p)["name"] for p in target["parameters"]}
        assert set(link.get("parameters", {})) <= params, name
        # And each body field it fills is a field of the target's request body
        assert set(link.get("requestBody", {})) <= body_properties(public, target), name
        assert link.get("parameters") or link.get("requestBody"), name
        # And every value is a runtime expression over a field the source really has
        for expression in [*link.get("parameters", {}).values(),
                           *link.get("requestBody", {}).values()]:
            where, field = EXPRESSION.fullmatch(expression).groups()
            assert field in body_properties(public, source,
                                            status if where == "response" else None), expression


def test_the_links_walk_from_sign_up_to_a_wallet_to_money_to_its_request(public):
    walked = {(source["operationId"], link["operationId"]) for source, _, _, link in links(public)}
    assert CHAIN <= walked
    # Only successes lead on: nothing follows a problem
    assert {status for _, status, _, _ in links(public)} <= {"200", "201", "202"}


def test_the_operators_document_has_no_links(ops_doc):
    assert list(links(ops_doc)) == []


def test_the_documented_webhook_url_pattern_is_the_one_the_service_checks():
    url = openapi.document()["components"]["schemas"]["WebhookCreate"]["properties"]["url"]
    assert url["pattern"] == urls.URL_PATTERN
    assert re.fullmatch(url["pattern"], "https://shop.example:8443/hooks?x=1")
    assert not re.fullmatch(url["pattern"], "https://shop.example/a b")
