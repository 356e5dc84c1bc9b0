"""The line self-test: proves a caller reaches Telecenter and their keys arrive.

Answers, asks for two digits (keys pressed during the prompt count), says
them back and hangs up. Sysadmins dial it after installing; the end-to-end
tests walk it over a Local channel and over SIP.
"""

from dataclasses import dataclass

from dialplan import names
from fastagi.settings import Settings
from ivr.prompts import prompt_path

DIGIT_TIMEOUT_MS = 5000
DIGITS_WANTED = 2


@dataclass(frozen=True)
class SelfTest:
    """The route, with the settings that say where its prompt is."""

    settings: Settings

    async def handle(self, call, args) -> None:
        await handle(call, args, prompt_path(self.settings.sounds_dir, self.settings.language,
                                             names.PROMPT_SELFTEST))


async def handle(call, args, prompt: str) -> None:
    """Answer, ask for two keys with ``prompt``, say them back, hang up."""
    await call.answer()
    await call.verbose(f"Telecenter self-test: call from {call.env.caller or 'unknown'}")
    first = await call.stream_file(prompt)
    digits = await call.read_digits(DIGITS_WANTED, first, DIGIT_TIMEOUT_MS)
    if digits:
        await call.say_digits(digits)
    await call.hangup()
