"""Logging in and out, the login rate limit, role checks and CSRF."""

import pytest

from tests.admin_web.conftest import PASSWORD, AuthActions, csrf_token


def test_login_page_is_russian_by_default(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Вход" in page and 'lang="ru"' in page


def test_bootstrap_is_served_locally(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "cdn" not in page.lower()
    assert "/bootstrap/static/css/bootstrap.min.css" in page
    assert client.get("/bootstrap/static/css/bootstrap.min.css").status_code == 200


def test_login_with_the_right_password_opens_the_admin(client, auth):
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "admin" in page and "Пользователи" in page


def test_wrong_password_is_refused(client, auth):
    response = auth.login(password="Wrong-password-1")
    assert response.status_code == 200
    assert "Неверный логин или пароль" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_login_reads_like_a_wrong_password(auth):
    response = auth.login(login="nobody")
    assert "Неверный логин или пароль" in response.get_data(as_text=True)


def test_logout_ends_the_session(client, auth):
    auth.login()
    auth.logout()
    assert client.get("/").headers["Location"].startswith("/auth/login")


def test_login_is_rate_limited_per_address_and_login(client, auth):
    for _ in range(5):
        assert auth.login(password="Wrong-password-1").status_code == 200
    limited = auth.login()  # even the right password waits now
    assert limited.status_code == 429
    assert "Слишком много попыток входа" in limited.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert auth.login(login="boss").status_code == 302  # another login is not held up


def test_a_copied_session_cookie_stops_working_at_logout(app, client, auth):
    auth.login()
    copied = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/users/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_logging_out_ends_the_users_other_sessions_too(app, auth):
    other = app.test_client()
    AuthActions(other).login()
    assert other.get("/users/").status_code == 200
    auth.login()
    auth.logout()
    assert other.get("/users/").status_code == 302


def test_logging_in_and_out_often_is_not_limited(app, client, auth):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    for _ in range(4):
        assert auth.login().status_code == 302
        auth.logout()


def client_from(app, address: str):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_stranger_failing_from_another_address_does_not_lock_the_admin_out(app):
    stranger = client_from(app, "192.0.2.66")
    for _ in range(6):
        AuthActions(stranger).login(password="Wrong-password-1")
    assert AuthActions(stranger).login().status_code == 429  # the stranger is stopped
    admin = client_from(app, "192.0.2.10")
    assert AuthActions(admin).login().status_code == 302


def test_guessing_from_one_address_is_stopped_for_every_login(app):
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "4 per minute"
    guesser = AuthActions(client_from(app, "192.0.2.66"))
    statuses = [guesser.login(login=login, password="Wrong-password-1").status_code
                for login in ("admin", "boss", "olga", "admin", "boss", "olga")]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert guesser.login().status_code == 429


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/",
                                    "/\\evil.example/"])
def test_next_never_leads_off_the_site(client, target):
    response = client.post("/auth/login", query_string={"next": target},
                           data={"login": "admin", "password": PASSWORD,
                                 "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/"


def test_next_leads_back_to_the_page_asked_for(client):
    response = client.post("/auth/login", query_string={"next": "/history/?user=boss"},
                           data={"login": "admin", "password": PASSWORD,
                                 "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/history/?user=boss"


@pytest.mark.parametrize("login, url, status", [
    ("olga", "/users/", 403),
    ("olga", "/history/", 403),
    ("olga", "/", 200),
    ("boss", "/users/", 403),
    ("boss", "/history/", 200),
    ("admin", "/users/", 200),
    ("admin", "/history/", 200),
])
def test_every_page_checks_the_role(client, auth, login, url, status):
    auth.login(login)
    response = client.get(url)
    assert response.status_code == status
    if status == 403:
        assert "Ваша роль не позволяет" in response.get_data(as_text=True)


def test_anonymous_users_are_sent_to_login(client):
    for url in ("/", "/users/", "/history/", "/users/1"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_operator_cannot_post_to_admin_actions(client, auth, db_rows):
    auth.login("olga")
    response = auth.post("/users/new", {"login": "intruder", "role": "administrator",
                                        "password": PASSWORD, "repeat": PASSWORD})
    assert response.status_code == 403
    assert not db_rows("SELECT 1 FROM users WHERE login = 'intruder'")


def test_navbar_shows_only_what_the_role_allows(client, auth):
    auth.login("boss")
    page = client.get("/history/").get_data(as_text=True)
    assert 'href="/history/"' in page and 'href="/users/"' not in page


def test_post_without_csrf_token_is_refused_and_nothing_stored(client, auth, db_rows):
    auth.login()
    response = client.post("/users/new", data={"login": "sneaky", "role": "operator",
                                                "password": PASSWORD, "repeat": PASSWORD})
    assert response.status_code == 400
    assert not db_rows("SELECT 1 FROM users WHERE login = 'sneaky'")
    assert not db_rows("SELECT 1 FROM change_log")


def test_login_without_csrf_token_is_refused(client):
    response = client.post("/auth/login", data={"login": "admin", "password": PASSWORD})
    assert response.status_code == 400


def test_password_reset_ends_other_sessions(app, auth, db_rows):
    other = app.test_client()
    AuthActions(other).login("boss")
    assert other.get("/history/").status_code == 200
    auth.login()
    boss = db_rows("SELECT id FROM users WHERE login = 'boss'")[0]["id"]
    auth.post(f"/users/{boss}/password", {"password": "New-password-22", "repeat": "New-password-22"})
    assert other.get("/history/").status_code == 302


def test_anonymous_users_are_told_why_they_see_the_login_page(client):
    page = client.get("/users/", follow_redirects=True).get_data(as_text=True)
    assert "Войдите, чтобы открыть эту страницу." in page


def test_one_address_cannot_spray_many_logins(app, client, auth):
    app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] = "3 per minute"
    for login in ("a1", "a2", "a3"):
        assert auth.login(login=login).status_code == 200
    limited = auth.login()
    assert limited.status_code == 429
    assert "Слишком много попыток входа" in limited.get_data(as_text=True)
