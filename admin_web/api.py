"""The external API (spec 18) for the host information system, under /api/v1.

Served by the admin's app on the admin's port (``telecenter serve``), made
with flask-smorest: marshmallow schemas read the requests and write the
answers, and the same schemas make the OpenAPI description served at
/api/v1/openapi.json (read in a browser at /api/v1/docs).

Every request but the description's carries ``Authorization: Bearer
<token>``, a token an administrator made on the «API» page
(``admin_web.api_tokens``); no session, login or CSRF token applies. The
token is checked before anything else, then the body's size, then the body
itself. A refused request gets a JSON answer that says what was wrong,
field by field, and stores nothing: the rules of tasks and callback
requests are ``admin_web.robocall_tasks``'s, the admin pages' own.
Messages are Russian unless the client asks for English (Accept-Language).
"""

from __future__ import annotations

import flask
import marshmallow as ma
from flask import current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Api, Blueprint, abort
from marshmallow import validate
from werkzeug.exceptions import HTTPException, default_exceptions

from admin_web import api_tokens, call_history, csrf, robocall_tasks
from admin_web.db import get_db
from admin_web.i18n import LANGUAGES

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
LIST_MAX = 1000
OFFSET_MAX = 10**9
TASK_ID_MAX = 2**63 - 1  # robocall_tasks.id is a bigint
BODY_METHODS = ("POST", "PUT", "PATCH")
# Digits with an optional "+" first, as tasks and callback requests keep them.
PHONE_PATTERN = r"^[+]?[0-9]{3,15}$"
# A fragment of a number to look for: digits, an optional "+" first.
NUMBER_FRAGMENT_PATTERN = r"^[+]?[0-9]{0,20}$"
# A "not before" time's year, as robocall_tasks.TIME_YEARS has it (checked there).
YEARS_PATTERN = r"^[2-8][0-9]{3}-"
# Something to say: at least one character that is not a space, and no NUL
# (PostgreSQL's text cannot hold one). The spaces are spelt out, the union of what
# Python's and JavaScript's \s mean, so the description and the check agree.
SPACES = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{SPACES}][^\x00]*$"

# What the API answers when a value breaks a rule of its description: English keys
# (marshmallow's words and ours below), the client's language in the answer.
PHONE_RULE = "Digits, 3 to 15 of them, an optional + first."
TEXT_RULE = "Say something: at least one character that is not a space, no NUL characters."
NUMBER_RULE = "Digits only, an optional + first, at most 20."
WORDS = {
    "Missing data for required field.": _l("Required."),
    "Field may not be null.": _l("May not be null."),
    "Unknown field.": _l("Unknown field."),
    "Invalid input type.": _l("The body must be a JSON object."),
    "Invalid JSON body.": _l("The body is not valid JSON."),
    "Not a valid string.": _l("Must be a string."),
    "Not a valid integer.": _l("Must be a whole number."),
    "Not a valid boolean.": _l("Must be true or false."),
    "Not a valid datetime.": _l("Must be a date and time in ISO 8601 with its time zone,"
                                " e.g. 2030-01-31T09:00:00+03:00."),
    "Not a valid aware datetime.": _l("Must be a date and time in ISO 8601 with its time"
                                      " zone, e.g. 2030-01-31T09:00:00+03:00."),
    "Number too large.": _l("The number is too large."),
    PHONE_RULE: _l("Digits, 3 to 15 of them, an optional + first."),
    TEXT_RULE: _l("Say something: at least one character that is not a space,"
                  " no NUL characters."),
    NUMBER_RULE: _l("Digits only, an optional + first, at most 20."),
}
STATUS_WORDS = {
    400: _l("The request cannot be read."),
    401: _l("A valid API token is needed in the header Authorization: Bearer and the token."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    411: _l("Send the body with its length (Content-Length)."),
    413: _l("The body is too large: at most %(n)d bytes.", n=MAX_BODY_BYTES),
    422: _l("Some values are wrong; see errors."),
}


def _range_rule(low: int, high: int) -> str:
    return f"A whole number from {low} to {high}."


WORDS.update({
    _range_rule(0, robocall_tasks.PRIORITY_MAX): _l(
        "A whole number from %(low)d to %(high)d.", low=0, high=robocall_tasks.PRIORITY_MAX),
    _range_rule(1, LIST_MAX): _l("A whole number from %(low)d to %(high)d.", low=1,
                                 high=LIST_MAX),
    _range_rule(0, OFFSET_MAX): _l("A whole number from %(low)d to %(high)d.", low=0,
                                   high=OFFSET_MAX),
    _range_rule(1, robocall_tasks.TEXT_MAX): _l("From %(low)d to %(high)d characters.",
                                                low=1, high=robocall_tasks.TEXT_MAX),
})


bp = Blueprint("api", __name__, url_prefix=PREFIX,
               description="Robocall tasks, callback requests and call history.")
# The description in a browser: a page of our own (the pages' policy loads no outside script).
docs_bp = flask.Blueprint("api_docs", __name__)


# -- Schemas ---------------------------------------------------------------------------------

class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class Whole(validate.Regexp):
    """A pattern the whole value must match: Python's ``$`` also matches before a final
    line break, which the description's (JavaScript's) ``$`` does not."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def _range(low: int, high: int) -> validate.Range:
    return validate.Range(min=low, max=high, error=_range_rule(low, high))


def _phone(description: str) -> ma.fields.String:
    return ma.fields.String(required=True, validate=Whole(PHONE_PATTERN,
                                                                    error=PHONE_RULE),
                            metadata={"description": description, "example": "+79990000001"})


class TaskNew(_Strict):
    phone = _phone("The number to call: digits, an optional + first.")
    text = ma.fields.String(
        required=True,
        validate=[validate.Length(min=1, max=robocall_tasks.TEXT_MAX,
                                  error=_range_rule(1, robocall_tasks.TEXT_MAX)),
                  Whole(TEXT_PATTERN, error=TEXT_RULE)],
        metadata={"description": "What the robot says when the call is answered.",
                  "example": "Ваши документы готовы."})
    priority = ma.fields.Integer(
        load_default=robocall_tasks.DEFAULT_PRIORITY, strict=True,
        validate=_range(0, robocall_tasks.PRIORITY_MAX),
        metadata={"description": "0 is called first."})
    not_before = ma.fields.AwareDateTime(
        load_default=None, allow_none=True,
        metadata={"description": "Not called before this time (ISO 8601 with its zone,"
                                 " years 2000 to 8999).", "pattern": YEARS_PATTERN})


class Task(ma.Schema):
    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    source = ma.fields.String(required=True, metadata={"enum": list(robocall_tasks.SOURCES)})
    queued_at = ma.fields.DateTime(required=True)
    not_before = ma.fields.DateTime(allow_none=True, required=True)
    priority = ma.fields.Integer(required=True)
    done = ma.fields.Boolean(required=True)
    done_at = ma.fields.DateTime(allow_none=True, required=True)
    outcome = ma.fields.String(
        allow_none=True, required=True,
        metadata={"description": "Why the task is done: answered, gave_up_no_answer,"
                                 " gave_up_failures; null while it is open."})
    attempts = ma.fields.Integer(required=True)
    answered = ma.fields.Integer(required=True, metadata={"description": "Calls answered."})
    no_answers = ma.fields.Integer(required=True)
    failures = ma.fields.Integer(required=True, metadata={"description": "Technical failures."})
    attempt_started_at = ma.fields.DateTime(
        allow_none=True, required=True,
        metadata={"description": "When the attempt in progress began; null: none is."})
    call_now = ma.fields.Boolean(required=True)


class TaskList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Task), required=True)
    limit = ma.fields.Integer(required=True)
    offset = ma.fields.Integer(required=True)


class TaskFilter(_Strict):
    done = ma.fields.Boolean(load_default=None,
                             metadata={"description": "true: done tasks; false: open ones."})
    number = ma.fields.String(load_default="", validate=Whole(
        NUMBER_FRAGMENT_PATTERN, error=NUMBER_RULE),
        metadata={"description": "A fragment of the number."})
    limit = ma.fields.Integer(load_default=100, validate=_range(1, LIST_MAX))
    offset = ma.fields.Integer(load_default=0, validate=_range(0, OFFSET_MAX))


class CallbackNew(_Strict):
    phone = _phone("The number to call back: digits, an optional + first.")
    not_before = ma.fields.AwareDateTime(
        load_default=None, allow_none=True,
        metadata={"description": "Operators do not see it before this time (ISO 8601 with"
                                 " its zone, years 2000 to 8999).", "pattern": YEARS_PATTERN})


class CallbackAdded(ma.Schema):
    id = ma.fields.Integer(required=True)
    phone = ma.fields.String(required=True)
    new = ma.fields.Boolean(
        required=True, metadata={"description": "false: the number's open request was kept."})


class CallFilter(_Strict):
    since = ma.fields.AwareDateTime(
        data_key="from", load_default=None,
        metadata={"description": "Calls that started at or after this time."})
    until = ma.fields.AwareDateTime(
        data_key="to", load_default=None,
        metadata={"description": "Calls that started before this time (none when it is not"
                                 " after from)."})
    number = ma.fields.String(load_default="", validate=Whole(
        NUMBER_FRAGMENT_PATTERN, error=NUMBER_RULE),
        metadata={"description": "A fragment of the caller's or the called number."})
    limit = ma.fields.Integer(load_default=100, validate=_range(1, LIST_MAX))
    offset = ma.fields.Integer(load_default=0, validate=_range(0, OFFSET_MAX))


class Step(ma.Schema):
    at = ma.fields.DateTime(required=True)
    kind = ma.fields.String(required=True,
                            metadata={"enum": list(call_history.SUMMARY_KINDS)})
    detail = ma.fields.String(required=True)


class QueueWait(ma.Schema):
    queue_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, required=True,
                            metadata={"description": "null: the queue was deleted since."})
    joined_at = ma.fields.DateTime(required=True)
    wait_seconds = ma.fields.Float(allow_none=True, required=True)
    outcome = ma.fields.String(required=True)
    answered_phone = ma.fields.String(allow_none=True, required=True)
    operator = ma.fields.String(allow_none=True, required=True)


class Call(ma.Schema):
    id = ma.fields.Integer(required=True)
    caller = ma.fields.String(required=True)
    called = ma.fields.String(required=True)
    route = ma.fields.String(required=True)
    started_at = ma.fields.DateTime(required=True)
    ended_at = ma.fields.DateTime(allow_none=True, required=True)
    duration_seconds = ma.fields.Float(allow_none=True, required=True)
    outcome = ma.fields.String(allow_none=True, required=True,
                               metadata={"description": "null while the call goes on."})
    steps = ma.fields.List(ma.fields.Nested(Step), required=True)
    queue = ma.fields.Nested(QueueWait, allow_none=True, required=True)
    operator = ma.fields.String(allow_none=True, required=True,
                                metadata={"description": "The operator's login, if known."})


class CallList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Call), required=True)
    limit = ma.fields.Integer(required=True)
    offset = ma.fields.Integer(required=True)


class Refusal(ma.Schema):
    """Every refusal of the API: 4xx with this body."""

    code = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(),
                            metadata={"description": "What is wrong, field by field."})


# -- Requests: token, size, language; errors ------------------------------------------------

@bp.before_request
def _admit():
    """Refuse a request without a token in force (401), or with a body of unknown (411) or
    too large a size (413)."""
    g.language = request.accept_languages.best_match(LANGUAGES) or None
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    row = (api_tokens.token_in_force(get_db(), token.strip())
           if scheme.lower() == "bearer" else None)
    if row is None:
        abort(401, headers={"WWW-Authenticate": 'Bearer realm="telecenter"'})
    request.max_content_length = MAX_BODY_BYTES
    if request.method in BODY_METHODS and request.content_length is None:
        abort(411)  # a chunked body: its size is not known before it is read
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        abort(413)


def _words(messages) -> str:
    """marshmallow's messages for one field as one sentence in the client's language."""
    if isinstance(messages, dict):
        return " ".join(f"{key}: {_words(value)}" for key, value in messages.items())
    if isinstance(messages, (list, tuple)):
        return " ".join(_words(message) for message in messages)
    text = str(messages)
    return str(WORDS[text]) if text in WORDS else text


def field_errors(messages) -> dict[str, str]:
    """webargs' {location: {field: [messages]}} as {field: message}; 'body' for what is
    wrong with the body as a whole."""
    errors = {}
    for location, fields in (messages or {}).items():
        if not isinstance(fields, dict):  # the body is no JSON at all
            errors["body" if location == "json" else location] = _words(fields)
            continue
        for field, words in fields.items():
            errors["body" if field == "_schema" else field] = _words(words)
    return errors


def json_error(error: HTTPException):
    """Any refusal of the API as JSON: code, status, a message, and errors by field."""
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or field_errors(data.get("messages"))
    message = STATUS_WORDS.get(error.code)
    payload = {"code": error.code, "status": error.name,
               "message": str(message) if message is not None else error.name}
    if errors:
        payload["errors"] = errors
    # The exception's own headers (a 405's Allow) but its HTML content type.
    headers = {name: value for name, value in error.get_headers()
               if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    return payload, error.code, headers


# By code, as the app's own handlers of a code (the admin's error pages) come before a
# blueprint's handler of a class.
bp.register_error_handler(HTTPException, json_error)
for _code in default_exceptions:
    bp.register_error_handler(_code, json_error)


def _refused(problems: dict[str, str]):
    abort(422, errors=problems)


def _task_view(row: dict) -> dict:
    return {**row, "done": row["done_at"] is not None}


# -- Robocall tasks --------------------------------------------------------------------------

@bp.route("/robocall-tasks", methods=("POST",))
@bp.doc(tags=["Robocall tasks"], summary="Add a robocall task",
        description="The dialer calls the number and says the text when it is answered.")
@bp.arguments(TaskNew)
@bp.response(201, Task)
@bp.alt_response(422, schema=Refusal, description="Some values are wrong.")
def add_task(body: dict):
    try:
        row = robocall_tasks.add_task(get_db(), robocall_tasks.NewTask(**body), "api")
    except robocall_tasks.TaskRefused as refused:
        _refused(refused.problems)
    return _task_view(row)


@bp.route("/robocall-tasks", methods=("GET",))
@bp.doc(tags=["Robocall tasks"], summary="List robocall tasks, newest first")
@bp.arguments(TaskFilter, location="query", unknown=ma.RAISE)
@bp.response(200, TaskList)
@bp.alt_response(422, schema=Refusal, description="A filter is wrong.")
def list_tasks(query: dict):
    rows = robocall_tasks.list_tasks(get_db(), **query)
    return {"items": [_task_view(row) for row in rows], "limit": query["limit"],
            "offset": query["offset"]}


def _task_id(task_id: int) -> int:
    if task_id > TASK_ID_MAX:
        abort(404)
    return task_id


@bp.route("/robocall-tasks/<int:task_id>", methods=("GET",))
@bp.doc(tags=["Robocall tasks"], summary="One robocall task")
@bp.response(200, Task)
@bp.alt_response(404, schema=Refusal, description="No such task.")
def get_task(task_id: int):
    row = robocall_tasks.get_task(get_db(), _task_id(task_id))
    if row is None:
        abort(404)
    return _task_view(row)


@bp.route("/robocall-tasks/<int:task_id>", methods=("DELETE",))
@bp.doc(tags=["Robocall tasks"], summary="Delete a robocall task",
        description="Its attempts stay in the dialer's log; an attempt in progress finishes.")
@bp.response(204)
@bp.alt_response(404, schema=Refusal, description="No such task.")
def delete_task(task_id: int):
    if robocall_tasks.delete_task(get_db(), _task_id(task_id)) is None:
        abort(404)
    return ""


# -- Callback requests -----------------------------------------------------------------------

@bp.route("/callbacks", methods=("POST",))
@bp.doc(tags=["Callbacks"], summary="Order a callback",
        description="At most one request is open per number: when one is open already,"
                    " it is kept and answered with 200.")
@bp.arguments(CallbackNew)
@bp.response(201, CallbackAdded, description="A new request.")
@bp.alt_response(200, schema=CallbackAdded, description="The number's open request.")
@bp.alt_response(422, schema=Refusal, description="Some values are wrong.")
def add_callback(body: dict):
    try:
        added = robocall_tasks.add_callback(get_db(), body["phone"], "api", body["not_before"])
    except robocall_tasks.TaskRefused as refused:
        _refused(refused.problems)
    phone = get_db().execute("SELECT phone FROM callbacks WHERE id = %s",
                             (added.id,)).fetchone()["phone"]
    return {"id": added.id, "phone": phone, "new": added.new}, 201 if added.new else 200


# -- Call history ----------------------------------------------------------------------------

@bp.route("/calls", methods=("GET",))
@bp.doc(tags=["Calls"], summary="Call history, newest first",
        description="Each call with its steps (keys pressed, texts said, menu items,"
                    " queue events), its wait in a queue and the operator who answered.")
@bp.arguments(CallFilter, location="query", unknown=ma.RAISE)
@bp.response(200, CallList)
@bp.alt_response(422, schema=Refusal, description="A filter is wrong.")
def list_calls(query: dict):
    rows = call_history.list_calls(get_db(), since=query["since"], until=query["until"],
                                   number=query["number"], limit=query["limit"],
                                   offset=query["offset"])
    return {"items": rows, "limit": query["limit"], "offset": query["offset"]}


class TelecenterApi(Api):
    """flask-smorest's Api, but its JSON error answers are the API's only: the admin's
    pages keep their own error pages (``admin_web.errors``)."""

    ERROR_SCHEMA = Refusal

    def _register_error_handlers(self):
        pass


@docs_bp.route(PREFIX + "/docs")
def docs():
    """The API's description as a page: each operation, its parameters, body and answers."""
    spec = current_app.extensions["telecenter_api"].spec.to_dict()
    return render_template("api_tokens/docs.html", spec=spec,
                           schemas=spec["components"]["schemas"])


def init_app(app) -> None:
    """Serve the API and its description on ``app`` (the admin's app)."""
    app.config.update(
        API_TITLE="Telecenter API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "The host information system's API of Telecenter:"
                                    " robocall tasks, callback requests, call history."},
            "components": {"securitySchemes": {"bearer": {"type": "http",
                                                          "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        })
    api = app.extensions["telecenter_api"] = TelecenterApi(app)
    api.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    csrf.exempt(bp)
