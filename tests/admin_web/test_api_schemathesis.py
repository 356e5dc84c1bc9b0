"""The API against its own description: schemathesis generates requests from the OpenAPI
description the served admin serves (valid ones and ones that break it), sends them to it
and checks each answer: no server error, the documented status codes, content types and
bodies, and bad data refused; then sequences of calls the description links (a task
added, read, deleted, read again). Bounded by the number of examples and scenarios, so the
suite stays short (well under a minute).

The description is read when the tests are collected, from the app the server runs (the
tests are made from it before any server is up), and the first test checks that the served
one is the same.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from psycopg.rows import dict_row

from admin_web import api_tokens, create_app
from tests.admin_web.served_admin import served_admin

EXAMPLES = 50


@pytest.fixture(scope="module")
def served(pg_url, tmp_path_factory):
    with served_admin(pg_url, tmp_path_factory.mktemp("api-var")) as url:
        yield url


@pytest.fixture(scope="module")
def api_token(pg_url, served) -> str:
    with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
        token_id = conn.execute(
            "INSERT INTO api_tokens (name, token_hash, shown_prefix) VALUES (%s, %s, %s)"
            " RETURNING id", ("schemathesis", api_tokens.token_hash(TOKEN), TOKEN[:10])
        ).fetchone()["id"]
        yield TOKEN
        conn.execute("DELETE FROM robocall_tasks WHERE source = 'api'")
        conn.execute("DELETE FROM callbacks WHERE source = 'api'")
        conn.execute("DELETE FROM api_tokens WHERE id = %s", (token_id,))


def _description() -> dict:
    """The OpenAPI description as the app makes it (no database is reached for it)."""
    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql:///unused",
                      "SECRET_KEY": "unused", "VAR_DIR": str(Path("/nonexistent"))})
    return json.loads(json.dumps(app.extensions["telecenter_api"].spec.to_dict()))


DESCRIPTION = _description()
schema = schemathesis.openapi.from_dict(DESCRIPTION)
# The token every request carries: known when the tests are made (at collection), stored
# by the module's fixture before they run.
TOKEN = api_tokens.TOKEN_PREFIX + secrets.token_urlsafe(api_tokens.TOKEN_BYTES)


@schema.auth(refresh_interval=None)
class BearerToken:
    """Every generated request carries the token, so schemathesis knows the header is the
    description's security scheme (and tests the API without it as well)."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def test_the_served_description_is_the_one_tested(served):
    answer = requests.get(f"{served}/api/v1/openapi.json", timeout=10)
    assert answer.status_code == 200 and answer.json() == DESCRIPTION


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_description(case, served, api_token):
    case.call_and_validate(base_url=served)


STATEFUL_SCENARIOS = 20


def test_tasks_added_read_and_deleted_in_sequences_keep_to_the_description(served, api_token):
    """Schemathesis links the operations (a task added is read, then deleted, then read
    again) and checks each answer: a task just added is there, a deleted one is gone."""
    from hypothesis.stateful import run_state_machine_as_test

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": served}

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, deadline=None,
        derandomize=True, database=None, suppress_health_check=list(HealthCheck)))
