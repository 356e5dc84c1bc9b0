#!/usr/bin/env bash
# Installs the Debian packages Telecenter needs on a Debian 12 machine (as root).
#
# Bookworm ships no Asterisk; the bullseye security suite has Asterisk 16 and it
# installs on bookworm. The suite is added using the mirror this machine already
# uses for its security updates, so no host name lives in the project.
#
#   scripts/install-system.sh          runtime packages (Asterisk, sox, TTS)
#   scripts/install-system.sh --test   plus what the test suite drives (SIPp, Chromium, SIPVicious)
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ "$(id -u)" -ne 0 ]; then
    echo "install-system.sh: run as root (or through sudo)" >&2
    exit 1
fi

security_uri() {
    # The URI of the Debian security archive this machine already uses.
    local uri
    uri=$(grep -hE '^\s*URIs:.*security' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | head -n1 | awk '{print $2}')
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(grep -hE '^\s*deb\s.*security' /etc/apt/sources.list | head -n1 | awk '{print $2}')
    fi
    echo "$uri"
}

add_asterisk_suite() {
    local list=/etc/apt/sources.list.d/telecenter-asterisk.sources uri
    [ -f "$list" ] && return 0
    uri=$(security_uri)
    if [ -z "$uri" ]; then
        echo "install-system.sh: cannot find the Debian security mirror in apt sources" >&2
        exit 1
    fi
    cat > "$list" <<SRC
# Added by Telecenter: Asterisk 16 from the bullseye security suite.
Types: deb
URIs: $uri
Suites: bullseye-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

packages=(asterisk asterisk-core-sounds-ru asterisk-core-sounds-en asterisk-moh-opsound-wav
          sox libsox-fmt-mp3 festival festvox-ru espeak-ng)
if [ "$want_test" = 1 ]; then
    packages+=(sip-tester chromium sipvicious)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

add_asterisk_suite
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# The packaged service is not used: Telecenter runs its own Asterisk instance.
systemctl disable --now asterisk >/dev/null 2>&1 || true
