#!/usr/bin/env bash
# Installs, from Debian's packages, what hepvault and its tests need and the
# machine lacks. Quiet when everything is there.
set -euo pipefail

have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_pg || missing+=(postgresql)
# The live test (cmd/hepvault/live_test.go): a real Kamailio, sipp as user
# agents, tshark to read the SIP on the wire.
{ command -v kamailio || [ -x /usr/sbin/kamailio ]; } >/dev/null 2>&1 || missing+=(kamailio)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
# The live test of HEP over TLS: Kamailio's tls module, packaged apart.
compgen -G "/usr/lib/*/kamailio/modules/tls.so" >/dev/null || missing+=(kamailio-tls-modules)
# The metrics test (cmd/hepvault/metrics_test.go) checks /metrics with
# promtool, which Debian ships in the prometheus package.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# The compose test (deploy/compose_test.go) checks docker-compose.yml with
# Debian's docker-compose; no container engine is needed for that.
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# The web page's test (cmd/hepvault/web_test.go) drives a headless Chromium.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture; answer no
# beforehand so the install never waits for a person (root captures anyway).
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
