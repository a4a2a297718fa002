"""The error edge: unexpected failures become a 500 problem that shows no internals."""
import io
import json
import logging

import bottle

from web.http import RequestIdMiddleware, problems_plugin


def call(app, path: str, *, request_id: str | None = None) -> tuple[str, dict, dict]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "test",
               "SERVER_PORT": "80", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
               "wsgi.url_scheme": "http"}
    if request_id:
        environ["HTTP_X_REQUEST_ID"] = request_id
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(body)


def broken_app():
    core = bottle.Bottle()
    core.install(problems_plugin)

    @core.get("/boom")
    def boom():
        raise RuntimeError("password_hash=$argon2id$secret internals")

    return RequestIdMiddleware(core)


def test_an_unexpected_error_is_a_500_problem_with_the_request_id_and_no_internals(caplog):
    # Given a route that fails unexpectedly
    app = broken_app()
    # When it is called with a request id
    with caplog.at_level(logging.ERROR):
        status, headers, body = call(app, "/boom", request_id="trace-123")
    # Then the client sees a clean problem, and the log has the traceback and request id
    assert status.startswith("500") and headers["X-Request-Id"] == "trace-123"
    assert headers["Content-Type"] == "application/problem+json"
    assert body["code"] == "internal_error" and body["request_id"] == "trace-123"
    assert "argon2" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)
    record = next(r for r in caplog.records if "trace-123" in r.getMessage())
    assert record.exc_info and record.exc_info[0] is RuntimeError


def test_an_insane_request_id_is_replaced_by_a_generated_one():
    status, headers, _ = call(broken_app(), "/boom", request_id="bad id\twith spaces")
    assert headers["X-Request-Id"] != "bad id\twith spaces" and len(headers["X-Request-Id"]) == 32
