"""The FastAGI server: one Twisted protocol instance and one task per call.

Theory of operation. A connection starts in state ENV: lines are collected
up to the blank line and parsed into an `AGIEnv`. A connection whose first
line is no environment line is not Asterisk: it is closed with no record.
An environment that is not what Asterisk writes (a name twice, a line of
another shape, a control character, a missing variable) is refused: it can
only come from a caller's text with a line break in it, so nothing in it is
trusted, no route runs, and the call leaves through the failure path with a
record saying why. Otherwise the route named by the script path is looked
up; an unknown route goes straight to the failure path. The call is logged
as started and its handler runs as an asyncio task (state COMMANDS),
sending one command at a time; each reply fires the oldest pending
Deferred. A line that is no reply (Asterisk sends nothing unasked but
`HANGUP`) is never paired with a command: it is the rest of a forged
environment, and the call leaves through the failure path. A `HANGUP` line
or a dropped connection cancels the task: pending Deferreds fail, the
handler unwinds, and the call ends with outcome "caller hung up". Any other
exception is logged once with the call id and the call leaves through the
failure path: the channel variable `TELECENTER_STATUS=FAILED`; a route that
finished sets `TELECENTER_STATUS=OK`, and the generated dialplan sends
anything but OK to its fallback. The wire is bounded: the environment must
come within ENV_SECONDS, each reply within a bound that fits its command
(`protocol.reply_deadline`), else the connection is closed and the call ends
"no reply from Asterisk". A stopping server (`drain`) lets calls go on for
a grace period, then ends their routes through the failure path. The
connection is closed when the task is done, which ends AGI() in Asterisk;
the call's record is the recorder's, which no closing connection cancels.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import deque

from twisted.internet import defer, protocol
from twisted.protocols.basic import LineOnlyReceiver

from fastagi.call_records import CallLog, CallRecords
from fastagi.errors import AGIError, CallerHungUp, ChannelFailure, DeadChannel, ProtocolError
from fastagi.protocol import (
    HANGUP_LINE,
    USAGE_END,
    USAGE_START,
    AGIEnv,
    is_reply_line,
    looks_like_env,
    parse_env,
    require_complete,
    untrusted_env,
)
from fastagi.route_status import STATUS_FAILED, STATUS_OK, VAR_STATUS
from fastagi.routing import Router
from fastagi.session import AGICall

log = logging.getLogger(__name__)

OUTCOME_COMPLETED = "completed"
OUTCOME_HUNG_UP = "caller hung up"
OUTCOME_FAILED = "failed"
OUTCOME_NO_ROUTE = "no route"
OUTCOME_BAD_ENVIRONMENT = "bad environment"
OUTCOME_SERVER_STOPPED = "server stopped"
OUTCOME_NO_REPLY = "no reply from Asterisk"

# Asterisk sends the whole environment at once; a usage block, too.
ENV_SECONDS = 5.0
USAGE_BLOCK_SECONDS = 5.0


class ServerStopping(Exception):
    """The server is shutting down and did not let this call's route finish."""


_call_numbers = itertools.count(1)
# Tells apart the call ids of successive server runs in the log and the calls table.
_RUN_TAG = secrets.token_hex(2)


class AGIProtocol(LineOnlyReceiver):
    """Reads the environment, then pairs each reply with the command sent."""

    delimiter = b"\n"

    def __init__(self, server: AGIServerFactory):
        self.server = server
        self.call_id = f"agi-{_RUN_TAG}-{next(_call_numbers)}"
        self.env_lines: list[str] = []
        self.env: AGIEnv | None = None
        self.pending: deque[defer.Deferred] = deque()
        self.usage_lines: list[str] | None = None
        self.hung_up = False
        # Set when a line that is no reply arrived: the call is sent to the fallback.
        self.stray: ProtocolError | None = None
        self.route_running = False
        self.stopping = False
        # Set when Asterisk did not answer in time: the pairing of replies is lost.
        self.broken: ProtocolError | None = None
        self.task: asyncio.Task | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def connectionMade(self) -> None:
        self._env_timer = self._later(ENV_SECONDS, self._no_env)

    def _later(self, seconds: float, then, *args) -> asyncio.TimerHandle:
        timer = asyncio.get_event_loop().call_later(seconds, then, *args)
        self._timers.add(timer)
        return timer

    def _forget(self, timer: asyncio.TimerHandle) -> None:
        timer.cancel()
        self._timers.discard(timer)

    def _no_env(self) -> None:
        if self.env is None:
            log.warning("%s: no AGI environment within %.0f s (%d lines), closing",
                        self.call_id, ENV_SECONDS, len(self.env_lines))
            self.env = AGIEnv(values={})
            self.transport.loseConnection()

    def lineReceived(self, data: bytes) -> None:
        line = data.decode("utf-8", errors="replace").rstrip("\r")
        if self.env is None:
            self._env_line(line)
        elif line == HANGUP_LINE:
            self._caller_hung_up()
        elif self.usage_lines is not None:
            self.usage_lines.append(line)
            if line.startswith(USAGE_END):
                block, self.usage_lines = "\n".join(self.usage_lines), None
                self._usage_timer.cancel()
                self._reply(block)
        elif line.startswith(USAGE_START):
            self.usage_lines = [line]
            self._usage_timer = self._later(USAGE_BLOCK_SECONDS, self._no_reply,
                                            "the end of a 520 usage block", USAGE_BLOCK_SECONDS)
        elif not is_reply_line(line):
            self._stray_line(line)
        else:
            self._reply(line)

    def _env_line(self, line: str) -> None:
        if line:
            if not self.env_lines and not looks_like_env(line):
                log.warning("%s: not an AGI connection (first line %r), closing",
                            self.call_id, line[:80])
                self.transport.loseConnection()
                self.env = AGIEnv(values={})
                return
            self.env_lines.append(line)
            return
        self._env_timer.cancel()
        refusal = None
        try:
            self.env = require_complete(parse_env(self.env_lines))
        except ProtocolError as exc:
            self.env, refusal = untrusted_env(self.env_lines), exc
        self.task = asyncio.ensure_future(self.server.run_call(self, self.env, refusal))
        self.task.add_done_callback(lambda _: self.transport.loseConnection())

    def _stray_line(self, line: str) -> None:
        """A line Asterisk would never send unasked: fail the call, pair it with nothing."""
        if self.task is None or self.stray is not None:
            return
        self.stray = ProtocolError(f"a line that is no AGI reply: {line[:200]!r}", line)
        log.warning("%s: %s", self.call_id, self.stray)
        if self.route_running:
            self.task.cancel()

    def _reply(self, line: str) -> None:
        if not self.pending:
            log.warning("%s: reply with no command pending: %r", self.call_id, line)
            return
        waiting = self.pending.popleft()
        if not waiting.called:
            waiting.callback(line)

    def send_command(self, line: str, deadline: float) -> asyncio.Future:
        """Write one command line; the future gets the raw reply, or fails when
        none came within `deadline` seconds (the connection is then closed)."""
        if self.hung_up:
            raise CallerHungUp("the caller has hung up")
        if self.broken is not None:
            raise self.broken
        waiting: defer.Deferred = defer.Deferred()
        self.pending.append(waiting)
        self.sendLine(line.encode("utf-8"))
        timer = self._later(deadline, self._no_reply, line.split('"', 1)[0].strip(), deadline)
        future = waiting.asFuture(asyncio.get_event_loop())
        future.add_done_callback(lambda _: self._forget(timer))
        return future

    def _no_reply(self, what: str, seconds: float) -> None:
        """Asterisk is stuck or not Asterisk: fail the call and close the connection."""
        if self.broken is not None or self.hung_up:
            return
        self.broken = ProtocolError(f"no reply to {what} within {seconds:.0f} s")
        log.warning("%s: %s, closing the connection", self.call_id, self.broken)
        while self.pending:
            waiting = self.pending.popleft()
            if not waiting.called:
                waiting.errback(self.broken)
        self.transport.loseConnection()

    def _caller_hung_up(self) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        while self.pending:
            waiting = self.pending.popleft()
            if not waiting.called:
                waiting.errback(CallerHungUp("the caller hung up"))
        if self.route_running and not self.task.done():
            self.task.cancel()  # the route stops; writing the record never is

    def stop_call(self) -> None:
        """The server is stopping: end the route now; the call leaves through the fallback."""
        self.stopping = True
        if self.route_running and not self.task.done():
            self.task.cancel()

    def connectionLost(self, reason=protocol.connectionDone) -> None:
        for timer in self._timers:
            timer.cancel()
        if self.broken is None and self.task is not None and not self.task.done():
            self._caller_hung_up()


class AGIServerFactory(protocol.ServerFactory):
    """Holds what every call shares: the routes, the call records, the active calls."""

    def __init__(self, router: Router, records: CallRecords | None):
        self.router = router
        self.records = records
        self.active: dict[str, AGIProtocol] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, grace: float, stop_timeout: float = 5.0) -> None:
        """Let active calls finish for `grace` seconds, then stop the rest.

        A stopped call's record says "server stopped" and the caller is sent
        to the dialplan's fallback rather than left in silence.
        """
        if self.active:
            log.info("waiting up to %.0f s for %d active calls", grace, len(self.active))
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except asyncio.TimeoutError:
                pass
        left = list(self.active.values())
        if not left:
            return
        log.warning("stopping %d calls still active", len(left))
        for connection in left:
            connection.stop_call()
        tasks = [c.task for c in left if c.task is not None]
        done, not_done = await asyncio.wait(tasks, timeout=stop_timeout)
        for connection in left:
            connection.transport.loseConnection()

    def buildProtocol(self, addr) -> AGIProtocol:
        return AGIProtocol(self)

    async def run_call(self, connection: AGIProtocol, env: AGIEnv,
                       refusal: ProtocolError | None = None) -> str:
        """Run one call from start to end; the one place a call's errors are caught.

        A `refusal` (the environment was refused) runs no route: the call is
        recorded and sent straight to the fallback.
        """
        call_id = connection.call_id
        call_log = CallLog(self.records, call_id)
        call = AGICall(env, connection.send_command, call_log, call_id)
        self.active[call_id] = connection
        self._idle.clear()
        started = asyncio.get_event_loop().time()
        failure: Exception | None = None
        try:
            call_log.start(env)
            handler = self.router.find(env.route)
            if refusal is not None or connection.stray is not None:
                failure = refusal or connection.stray
            elif handler is None:
                failure = LookupError(f"no route {env.route!r}")
            else:
                connection.route_running = True
                await handler(call, env.args)
        except (asyncio.CancelledError, CallerHungUp):
            if connection.hung_up:
                pass
            elif connection.stray is not None:
                failure = connection.stray
            elif connection.stopping:
                failure = ServerStopping("the server was stopped during the call")
            else:
                raise  # the event loop itself is going away
        except Exception as exc:
            failure = exc
        finally:
            connection.route_running = False
        outcome = await self._outcome(call, connection, failure)
        if failure is not None and outcome != OUTCOME_HUNG_UP:
            call_log.event("error", _describe_failure(failure))
        call_log.finish(outcome)
        del self.active[call_id]
        if not self.active:
            self._idle.set()
        log.info("%s: call from %r to route %r ended: %s after %.1f s; %d calls active",
                 call_id, env.caller, env.route, outcome,
                 asyncio.get_event_loop().time() - started, len(self.active))
        return outcome

    async def _outcome(self, call: AGICall, connection: AGIProtocol,
                       failure: Exception | None) -> str:
        """Name how the call ended; a failed call is sent to the dialplan's fallback.

        Asterisk answers `200 result=-1` to a command cut short by a hangup
        and only then sends `HANGUP`, so a failure counts as a hangup when the
        channel turns out to be gone while we signal the failure.
        """
        if connection.hung_up:
            # Asterisk closes as soon as it answers HANGUP: a route that hung up itself
            # completed, even when the close came before the reply was read.
            return OUTCOME_COMPLETED if failure is None and call.hung_up_by_route \
                else OUTCOME_HUNG_UP
        if connection.broken is not None:
            log.warning("%s: %s", call.call_id, connection.broken)
            return OUTCOME_NO_REPLY
        if failure is None:
            if not call.hung_up_by_route:
                try:
                    await call.set_variable(VAR_STATUS, STATUS_OK)
                except AGIError:
                    pass  # the caller is gone: nothing is left to tell
            return OUTCOME_COMPLETED
        try:
            await call.set_variable(VAR_STATUS, STATUS_FAILED)
        except (DeadChannel, ChannelFailure):
            return OUTCOME_HUNG_UP
        except (AGIError, asyncio.CancelledError):
            pass
        if connection.hung_up:
            return OUTCOME_HUNG_UP
        if isinstance(failure, LookupError):
            log.warning("%s: %s, sent the call to the fallback", call.call_id, failure)
            return OUTCOME_NO_ROUTE
        if isinstance(failure, ServerStopping):
            return OUTCOME_SERVER_STOPPED
        if isinstance(failure, ProtocolError):
            log.warning("%s: refused what Asterisk sent (%s), sent the call to the fallback",
                        call.call_id, failure)
            return OUTCOME_BAD_ENVIRONMENT
        raw = f" (Asterisk said {failure.raw!r})" if isinstance(failure, AGIError) else ""
        log.error("%s: route %r failed%s, sent the call to the fallback",
                  call.call_id, call.env.route, raw, exc_info=failure)
        return OUTCOME_FAILED


def _describe_failure(failure: Exception) -> str:
    """The ``error`` event of a failed call: the exception and what Asterisk said."""
    hangup_like = isinstance(failure, (ChannelFailure, DeadChannel))
    raw = f" (Asterisk said {failure.raw!r})" if hangup_like else ""
    return f"{type(failure).__name__}: {failure}{raw}"
