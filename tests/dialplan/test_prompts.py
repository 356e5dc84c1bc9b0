"""Every prompt the dialplan or the server plays by name is shipped, in a form Asterisk plays."""

import re
import wave

from dialplan import names
from fastagi.settings import PROJECT_ROOT, Settings

PROMPTS = {name: value for name, value in vars(names).items() if name.startswith("PROMPT_")}


def test_every_named_prompt_is_shipped_as_8_khz_mono_16_bit_wav():
    assert {"PROMPT_UNAVAILABLE", "PROMPT_QUEUE_NO_MEMBER", "PROMPT_QUEUE_MAX_WAIT"} <= set(PROMPTS)
    for prompt in PROMPTS.values():
        path = Settings().sounds_dir / "ru" / f"{prompt}.wav"
        with wave.open(str(path), "rb") as sound:
            assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == \
                (8000, 1, 2), path
            assert sound.getnframes() > 8000, f"{path}: under a second of speech"


def test_make_prompts_makes_each_of_them_again():
    script = (PROJECT_ROOT / "scripts" / "make-prompts.sh").read_text()
    made = set(re.findall(r"^say_ru (\S+) ", script, re.M))
    assert made == set(PROMPTS.values())
