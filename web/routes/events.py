"""/v1/events: the caller's events, oldest first, after the last one it has seen."""
from accounts import events
from web import views
from web.http import json_response
from web.inputs import current_user, query_choice, query_id, query_int
from web.pages import DEFAULT_LIMIT, MAX_LIMIT
from web.routing import Routes

routes = Routes()


@routes.get("/v1/events", query={"after", "type", "limit"})
def get_events():
    user = current_user()
    after = query_id("after", default=0)
    kind = query_choice("type", events.TYPES)
    limit = query_int("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    found = events.after(user.id, after_id=after, type=kind, limit=limit)
    return json_response(200, {"items": [views.event(row) for row in found],
                               "next_after": found[-1].id if found else after})
