"""Error pages in the admin's layout and language, not Werkzeug's bare ones."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.exceptions import HTTPException, NotFound

from admin_web import api

SHOWN = (400, 403, 404, 405, 429)


class DeletedMeanwhile(NotFound):
    """What a form changes was deleted by someone else between the page and the save."""


def deleted_meanwhile():
    """Stop the request: its object is gone, nothing was saved (a 404 that says so)."""
    raise DeletedMeanwhile()


def error_page(error: HTTPException):
    """The error page for `error`, with its status code; the API's answer in JSON."""
    if request.path.startswith(api.PREFIX + "/"):  # a path of the API's that no view serves
        return api.json_error(error)
    return render_template("error.html", code=error.code,
                           deleted=isinstance(error, DeletedMeanwhile)), error.code


def init_app(app) -> None:
    """Use `error_page` for the codes a user can meet."""
    for code in SHOWN:
        app.register_error_handler(code, error_page)
