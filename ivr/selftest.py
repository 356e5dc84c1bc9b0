"""The line self-test: proves a caller reaches Telecenter and their keys arrive.

Answers, asks for two digits (keys pressed during the prompt count), says
them back and hangs up. Sysadmins dial it after installing; the end-to-end
tests walk it over a Local channel and over SIP.
"""

from dialplan import names
from ivr.prompts import prompt_path

DIGIT_TIMEOUT_MS = 5000
DIGITS_WANTED = 2


async def handle(call, args) -> None:
    await call.answer()
    await call.verbose(f"Telecenter self-test: call from {call.env.caller or 'unknown'}")
    first = await call.stream_file(prompt_path(names.PROMPT_SELFTEST))
    digits = await call.read_digits(DIGITS_WANTED, first, DIGIT_TIMEOUT_MS)
    if digits:
        await call.say_digits(digits)
    await call.hangup()
