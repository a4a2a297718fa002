"""/v1/users, /v1/auth and /v1/me: sign-up, tokens, sessions, the caller's profile."""
import bottle

from accounts import users
from payments import closing
from web import views
from web.http import json_response
from web.inputs import client_address, current_user, read_json, require_string, user_agent
from web.pages import PAGE_PARAMS, page_args, rendered_page
from web.routing import Routes

routes = Routes()


@routes.post("/v1/users")
def post_users():
    doc = read_json(allowed={"email", "username", "password"})
    user = users.sign_up(email=require_string(doc, "email"),
                         username=require_string(doc, "username"),
                         password=require_string(doc, "password"), ip=client_address())
    return json_response(201, views.user(user), headers={"Location": "/v1/me"})


@routes.post("/v1/auth/token")
def post_token():
    doc = read_json(allowed={"email", "password"})
    token, ttl_s = users.log_in(email=require_string(doc, "email"),
                                password=require_string(doc, "password"),
                                ip=client_address(), user_agent=user_agent())
    return json_response(200, {"access_token": token, "token_type": "Bearer",
                               "expires_in": ttl_s}, headers={"Cache-Control": "no-store"})


@routes.post("/v1/auth/logout")
def post_logout():
    users.log_out(current_user())
    return bottle.HTTPResponse(status=204)


@routes.get("/v1/me")
def get_me():
    return json_response(200, views.user(current_user(profile=True)))


@routes.patch("/v1/me")
def patch_me():
    user = current_user(profile=True)
    doc = read_json(allowed={"username", "password", "current_password"})
    fields = {name: require_string(doc, name) for name in doc}
    return json_response(200, views.user(users.update_profile(user, ip=client_address(),
                                                              **fields)))


@routes.delete("/v1/me")
def delete_me():
    closing.delete_user(current_user())
    return bottle.HTTPResponse(status=204)


@routes.get("/v1/me/logins", query=PAGE_PARAMS)
def get_logins():
    user = current_user()
    scope = f"logins:{user.id}"
    limit, after = page_args(scope)
    return json_response(200, rendered_page(users.logins(user, limit=limit, after=after),
                                            limit=limit, scope=scope, render=views.login))
