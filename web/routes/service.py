"""The service's own routes: health, readiness, metrics and the API's documentation."""
import bottle

from infra import health
from web import docs, metrics
from web.http import json_response
from web.openapi import public
from web.routing import Routes

routes = Routes()


@routes.get("/healthz")
def get_healthz():
    return json_response(200, {"status": "ok"})


@routes.get("/readyz")
def get_readyz():
    state = health.readiness()
    return json_response(200 if health.is_ready(state) else 503, state)


@routes.get("/metrics")
def get_metrics():
    body, content_type = metrics.exposition()
    return bottle.HTTPResponse(body, headers={"Content-Type": content_type})


@routes.get("/openapi.json")
def get_openapi():
    return json_response(200, public.document())


@routes.get("/docs")
def get_docs():
    return bottle.HTTPResponse(docs.PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


@routes.get(f"/docs/{docs.SCRIPT_NAME}")
def get_docs_script():
    return bottle.static_file(docs.SCRIPT_NAME, root=docs.ASSETS_DIR,
                              mimetype="text/javascript", charset="utf-8")
