"""The server's AMI connection: backoff, and reconnecting to a real Asterisk."""

import asyncio
import logging

import pytest

from fastagi.ami import AmiClient, AmiError, _BackoffManager
from tests.conftest import require
from tests.testbed.ports import free_port


def test_each_failed_attempt_waits_longer_up_to_the_cap():
    async def attempts():
        loop = asyncio.get_running_loop()
        manager = _BackoffManager(1, 8, host="127.0.0.1", port=1, username="u", secret="s",
                                  loop=loop)
        delays = []
        for _ in range(6):
            delays.append(manager.reconnect_timeout)
            failed = loop.create_future()
            failed.set_exception(ConnectionRefusedError())
            manager.connection_made(failed)
        return delays

    assert asyncio.run(attempts()) == [1, 2, 4, 8, 8, 8]


@pytest.fixture
def instance(tmp_path):
    """An Asterisk with its configuration written, not started."""
    require("asterisk")
    from dialplan.instance import AsteriskInstance

    instance = AsteriskInstance(root=tmp_path / "ast", include_dir=tmp_path / "inc",
                                sip_port=free_port(), ami_port=free_port())
    instance.write_config()
    yield instance
    instance.stop()


@pytest.mark.asterisk
def test_connects_once_asterisk_comes_up_and_after_a_restart(instance):

    async def scenario():
        client = AmiClient("127.0.0.1", instance.ami_port, instance.ami_user, instance.ami_secret,
                           base_delay=0.2, max_delay=1)
        logins = asyncio.Queue()

        async def logged_in():
            await logins.put(client.logins)

        client.on_login(logged_in)
        client.start()
        with pytest.raises(AmiError):
            await client.ready(timeout=0.5)  # nothing listens yet
        await asyncio.to_thread(instance.start)
        await client.ready(timeout=15)
        assert await asyncio.wait_for(logins.get(), 5) == 1
        await client.reload("pbx_config.so")
        await asyncio.to_thread(instance.stop)
        await asyncio.to_thread(instance.start)
        await client.ready(timeout=15)
        # After the new login the callbacks run again: state kept from events is read afresh.
        assert await asyncio.wait_for(logins.get(), 5) == 2
        await client.reload("pbx_config.so")
        client.close()

    asyncio.run(scenario())


@pytest.mark.asterisk
def test_wrong_secret_is_reported(instance):
    instance.start()

    async def scenario():
        client = AmiClient("127.0.0.1", instance.ami_port, instance.ami_user, "wrong-secret")
        client.start()
        try:
            with pytest.raises(AmiError):
                await client.reload("pbx_config.so")
        finally:
            client.close()

    asyncio.run(scenario())


def test_a_client_closed_before_it_connected_logs_nothing_and_stays_closed(caplog):
    """A short-lived client (an Apply refused for its problems) is closed while its first
    connection attempt is still under way: no error from the event loop, no reconnect."""

    async def open_and_close():
        client = AmiClient("127.0.0.1", free_port(), "u", "s", base_delay=0.01)
        client.start()
        client.close()
        client.manager.connect()  # a reconnect scheduled earlier finds the client closed
        return client

    client = asyncio.run(open_and_close())
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert client.manager.closed and not client.logged_in
