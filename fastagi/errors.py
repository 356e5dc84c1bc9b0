"""Every error the AGI wire can raise, in one tree.

Each exception carries the raw reply it came from, so the one place that
logs a failed call can say exactly what Asterisk answered.
"""


class AGIError(Exception):
    """Base of every AGI failure; `raw` is the reply text as received."""

    def __init__(self, message: str, raw: str = ""):
        super().__init__(message)
        self.raw = raw


class InvalidCommand(AGIError):
    """510: Asterisk does not know the command we sent."""


class DeadChannel(AGIError):
    """511: the channel hung up; only a few commands are still allowed."""


class UsageError(AGIError):
    """520: the command's arguments were wrong; `raw` holds the usage text."""


class ChannelFailure(AGIError):
    """`200 result=-1`: the command failed on the channel (usually a hangup)."""


class ProtocolError(AGIError):
    """A line that is no AGI reply at all: the peer is not Asterisk or is broken."""


class CallerHungUp(AGIError):
    """The caller hung up (a `HANGUP` line) or the connection dropped."""


class UnsafeArgument(ValueError):
    """A value that cannot be sent safely: it would break out of its argument."""
