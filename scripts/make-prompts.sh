#!/usr/bin/env bash
# Regenerates the shipped prompts in sounds/ from their texts (Festival, Russian voice),
# converted to what Asterisk plays: 8 kHz, mono, 16-bit WAV.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

say_ru() {  # name, text
    printf '%s' "$2" | text2wave -eval '(voice_msu_ru_nsh_clunits)' -o "$tmp/$1.wav"
    sox "$tmp/$1.wav" -r 8000 -c 1 -b 16 "sounds/ru/$1.wav"
}

mkdir -p sounds/ru
say_ru telecenter-unavailable "Извините, сервис временно недоступен. Пожалуйста, позвоните позже."
say_ru telecenter-selftest "Проверка связи. Наберите две любые цифры."
say_ru telecenter-tts-failed "Извините, это сообщение сейчас недоступно."
say_ru telecenter-queue-no-member "Сейчас нет операторов на связи. Пожалуйста, позвоните позже."
say_ru telecenter-queue-max-wait "К сожалению, все операторы заняты. Пожалуйста, позвоните позже."
