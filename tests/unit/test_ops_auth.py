"""The ops page's credentials: the token, the signed session cookie and its CSRF token."""
from web.ops import auth as opsauth

TOKEN = "the-real-ops-token"
NOW = 1_800_000_000


def session(token: str = TOKEN, *, now_s: float = NOW, ttl_s: int = 3600) -> str:
    return opsauth.new_session(token, now_s=now_s, ttl_s=ttl_s)


def test_only_the_ops_token_itself_is_the_ops_token():
    assert opsauth.token_ok(TOKEN, TOKEN)
    for wrong in ("", "the-real-ops-toke", TOKEN + "x", TOKEN.upper(), "é" * 18):
        assert not opsauth.token_ok(wrong, TOKEN)


def test_no_token_admits_anyone_while_none_is_configured():
    assert not opsauth.token_ok("", "")
    assert opsauth.session_nonce(session(""), "", now_s=NOW) is None


def test_a_session_cookie_is_good_until_it_expires():
    cookie = session(ttl_s=60)
    assert opsauth.session_nonce(cookie, TOKEN, now_s=NOW + 59)
    assert opsauth.session_nonce(cookie, TOKEN, now_s=NOW + 60) is None


def test_a_tampered_forged_or_foreign_cookie_is_refused():
    # Given a genuine cookie
    expiry, nonce, signature = session().split(".")
    # Then changing any part of it, or signing it under another token, makes it worthless
    for forged in (f"{int(expiry) + 9999}.{nonce}.{signature}",
                   f"{expiry}.{nonce}x.{signature}",
                   f"{expiry}.{nonce}.{signature[:-1]}{'1' if signature[-1] == '0' else '0'}",
                   f"{expiry}.{nonce}.", f"{expiry}.{nonce}", "", "...", "x.y.z",
                   session("another-ops-token")):
        assert opsauth.session_nonce(forged, TOKEN, now_s=NOW) is None, forged


def test_changing_the_ops_token_ends_every_session():
    assert opsauth.session_nonce(session(), "a-new-ops-token", now_s=NOW) is None


def test_every_session_gets_its_own_nonce_and_csrf_token():
    first, second = (opsauth.session_nonce(session(), TOKEN, now_s=NOW) for _ in range(2))
    assert first != second
    assert opsauth.csrf_token(first, TOKEN) != opsauth.csrf_token(second, TOKEN)


def test_a_form_passes_only_with_its_own_sessions_csrf_token():
    nonce = opsauth.session_nonce(session(), TOKEN, now_s=NOW)
    other = opsauth.session_nonce(session(), TOKEN, now_s=NOW)
    assert opsauth.csrf_ok(opsauth.csrf_token(nonce, TOKEN), nonce, TOKEN)
    for wrong in ("", "0" * 64, opsauth.csrf_token(other, TOKEN),
                  opsauth.csrf_token(nonce, "another-ops-token")):
        assert not opsauth.csrf_ok(wrong, nonce, TOKEN)
