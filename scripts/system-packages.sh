#!/usr/bin/env bash
# Install the system packages the tests need, only when they are missing (Debian/apt-get).
set -euo pipefail

missing=()
have_pg_server() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}
have_pg_server || missing+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# SoftHSM2: the token the HSM tests run against (issue 7); they fail, never skip, without it.
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "system-packages: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
