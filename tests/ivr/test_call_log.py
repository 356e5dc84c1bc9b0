"""Call records in the real PostgreSQL: odd characters never lose a record."""

import asyncio

import pytest

from fastagi.database import open_pool
from fastagi.protocol import untrusted_env
from ivr.call_log import CallLog, PgCallStore, storable

ODD_TEXTS = ["nul \x00 inside", "lone surrogate \udcff", "escape \x1b[2J", "\ud800 and \x00"]


def test_storable_keeps_ordinary_text_and_line_breaks():
    text = "Иванов И. И.\n520 End of proper usage.\tok"
    assert storable(text) == text


@pytest.mark.parametrize("odd", ODD_TEXTS)
def test_storable_replaces_what_a_text_column_cannot_hold(odd):
    stored = storable(odd)
    stored.encode("utf-8")  # a lone surrogate would raise here
    assert "\x00" not in stored and "\x1b" not in stored and "\ufffd" in stored


def test_a_call_with_odd_characters_in_every_field_is_stored_whole(pg_url, db):
    async def record():
        pool = await open_pool(pg_url, max_size=2)
        try:
            call_log = CallLog(PgCallStore(pool), "agi-odd-1")
            env = untrusted_env(["agi_network_script: menu", "agi_uniqueid: 17.\udcff",
                                 "agi_channel: PJSIP/1\x00", "agi_callerid: 12\udcff3"])
            call_log.start(env)
            for odd in ODD_TEXTS:
                call_log.event("say", odd)
            await call_log.finish("caller hung up \x00")
        finally:
            await pool.close()

    asyncio.run(record())
    row = db.execute("SELECT id, caller, outcome FROM calls WHERE agi_call_id = 'agi-odd-1'").fetchone()
    assert row["caller"] == "12\ufffd3"
    assert row["outcome"] == "caller hung up \ufffd"
    details = [r["detail"] for r in db.execute(
        "SELECT detail FROM call_events WHERE call_id = %s ORDER BY seq", (row["id"],))]
    assert details == [storable(odd) for odd in ODD_TEXTS]
