#!/usr/bin/env bash
# Installs every Debian 12 package petrel needs to build, test and benchmark.
# Idempotent; run as root (or with sudo available). Debian packages only.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libc-ares-dev libsqlite3-dev libsodium-dev libidn2-dev libpsl-dev publicsuffix
  zlib1g-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev googletest
  clang libclang-rt-dev
)
TEST_PKGS=(
  python3 python3-pytest python3-aiosmtpd swaks libnet-ssleay-perl curl msmtp openssl
  postfix dnsmasq-base iproute2 procps psmisc strace
  python3-yaml python3-dkim python3-nacl python3-dnspython python3-spf opendkim-tools libmail-dkim-perl
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a test peer and benchmark baseline: never configure the system instance.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The system Postfix must not hold port 25 or run queue managers during tests.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postfix >/dev/null 2>&1 || true; fi
$SUDO postfix stop >/dev/null 2>&1 || true
