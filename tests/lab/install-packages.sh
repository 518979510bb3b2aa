#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (listed in packages.txt beside this file).
# Also builds the kube-apiserver the live-cluster tests run (once per machine, cached).
# Idempotent and non-interactive: does nothing when everything is already installed; uses
# sudo when not root. Services the packages ship are not started: the tests start their own
# instances on loopback addresses.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# A line is a package, or `PACKAGE unless-command CMD`: a package wanted only for a command
# the machine may already have from elsewhere (kubectl ships in several packages that
# conflict with each other).
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$here/packages.txt" | grep -v '^$' || true)
missing=()
for line in "${wanted[@]}"; do
  read -r p condition cmd <<<"$line"
  if [ "${condition:-}" = "unless-command" ] && command -v "$cmd" >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# kube-apiserver is built from source once per machine (kube-apiserver.sh caches it).
build_apiserver() { bash "$here/kube-apiserver.sh" >/dev/null; }
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-packages: all ${#wanted[@]} test packages present"
  build_apiserver
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-packages: need root or sudo to install: ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
# Keep package scripts from starting daemons that would hold port 53 on loopback.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT
echo "install-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
build_apiserver
