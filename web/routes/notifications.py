"""/v1/notifications: the caller's notifications, and marking one read."""
import bottle

from accounts import notifications
from errors import NotificationNotFound
from web import views
from web.http import json_response
from web.inputs import current_user, path_id, unread_filter
from web.pages import PAGE_PARAMS, page_args, rendered_page
from web.routing import Routes

routes = Routes()


@routes.get("/v1/notifications", query=PAGE_PARAMS | {"unread"})
def get_notifications():
    user = current_user()
    unread = unread_filter()
    scope = f"notifications:{user.id}"
    limit, after = page_args(scope)
    return json_response(200, rendered_page(
        notifications.of_user(user.id, unread=unread, limit=limit, after=after), limit=limit,
        scope=scope, render=views.notification))


@routes.post("/v1/notifications/<notification_id>/read")
def post_notification_read(notification_id):
    user = current_user()
    notifications.mark_read(user.id, path_id(notification_id, NotificationNotFound))
    return bottle.HTTPResponse(status=204)
