"""Call history as the host information system reads it (spec 14, 18): calls with filters.

One row per ``calls`` row (a FastAGI session), newest first, with what a
reader of the history needs beside it: the steps the call took (what was
pressed, said, chosen; the AGI commands themselves are left out), the wait
in a queue and the operator who answered there (``queue_calls``, joined by
the channel's unique id).
"""

from __future__ import annotations

from datetime import datetime

# The kinds of call_events a summary shows; 'command' and 'prompt' are the wire's detail.
SUMMARY_KINDS = ("digits", "say", "item", "handler", "scenario", "queue", "error")
STEPS_MAX = 100

_QUERY = """
SELECT c.id, c.caller, c.called, c.route, c.started_at, c.ended_at, c.outcome,
       extract(epoch FROM c.ended_at - c.started_at)::double precision AS duration_seconds,
       coalesce(s.steps, '[]'::json) AS steps,
       q.queue_id, q.queue_name, q.joined_at, q.wait_seconds, q.queue_outcome,
       q.answered_phone, q.operator
FROM calls AS c
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('at', e.at, 'kind', e.kind, 'detail', e.detail)
                    ORDER BY e.seq) AS steps
    FROM (SELECT seq, at, kind, detail FROM call_events
          WHERE call_id = c.id AND kind = ANY(%(kinds)s) ORDER BY seq LIMIT %(steps_max)s) AS e
) AS s ON true
LEFT JOIN LATERAL (
    SELECT qc.queue_id, qu.name AS queue_name, qc.joined_at, qc.outcome AS queue_outcome,
           coalesce(qc.wait_seconds,
                    extract(epoch FROM coalesce(qc.answered_at, qc.ended_at, now())
                                       - qc.joined_at))::double precision AS wait_seconds,
           qc.answered_phone, qc.answered_operator AS operator
    FROM queue_calls AS qc LEFT JOIN queues AS qu ON qu.id = qc.queue_id
    WHERE c.unique_id <> '' AND qc.caller_id = c.unique_id
    ORDER BY qc.joined_at DESC LIMIT 1
) AS q ON true
{where}
ORDER BY c.started_at DESC, c.id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


def list_calls(conn, *, since: datetime | None = None, until: datetime | None = None,
               number: str = "", limit: int = 100, offset: int = 0) -> list[dict]:
    """Calls that started in [since, until), whose caller or called number holds ``number``
    (a fragment of digits), newest first; each with its steps and queue wait."""
    where, params = [], {"kinds": list(SUMMARY_KINDS), "steps_max": STEPS_MAX,
                         "limit": limit, "offset": offset}
    if since is not None:
        where.append("c.started_at >= %(since)s")
        params["since"] = since
    if until is not None:
        where.append("c.started_at < %(until)s")
        params["until"] = until
    digits = number.strip().lstrip("+")
    if digits:
        where.append("(strpos(c.caller, %(number)s) > 0 OR strpos(c.called, %(number)s) > 0)")
        params["number"] = digits
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(_QUERY.format(where=clause), params).fetchall()
    return [_shaped(row) for row in rows]


def _shaped(row: dict) -> dict:
    """A row with its queue columns gathered under ``queue`` (None: it was in no queue)."""
    queue = None
    if row["queue_id"] is not None:
        queue = {"queue_id": row["queue_id"], "name": row["queue_name"],
                 "joined_at": row["joined_at"], "wait_seconds": row["wait_seconds"],
                 "outcome": row["queue_outcome"], "answered_phone": row["answered_phone"],
                 "operator": row["operator"]}
    steps = [{"at": datetime.fromisoformat(step["at"]), "kind": step["kind"],
              "detail": step["detail"]} for step in row["steps"]]
    return {"id": row["id"], "caller": row["caller"], "called": row["called"],
            "route": row["route"], "started_at": row["started_at"],
            "ended_at": row["ended_at"], "duration_seconds": row["duration_seconds"],
            "outcome": row["outcome"], "steps": steps, "queue": queue,
            "operator": row["operator"]}
