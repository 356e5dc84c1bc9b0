"""The session key: made once, kept private, the same after a restart."""

import stat

from admin_web import create_app
from admin_web.secret_key import FILE_NAME


def test_key_is_made_once_and_kept_owner_only(people, pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("TELECENTER_SECRET_KEY", raising=False)
    config = {"DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path)}
    first = create_app(config).config["SECRET_KEY"]
    again = create_app(config).config["SECRET_KEY"]
    assert first == again and len(first) >= 40
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600


def test_a_given_key_wins_and_nothing_is_written(people, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TELECENTER_SECRET_KEY", "from-the-environment")
    app = create_app({"DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / FILE_NAME).exists()
