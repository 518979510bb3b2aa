#!/usr/bin/env bash
# Builds kube-apiserver 1.20.2 from Debian 12's `kubernetes` source package into a cache
# outside the clone, once per machine; later runs find it there and return at once.
# No Debian package ships the binary, and the live-cluster tests need a real API server.
#
# Source entries are derived from the machine's own apt sources into a private directory,
# so the system's apt configuration and package lists are left untouched.
# Prints the path of the binary on its last line.
set -euo pipefail
cache="${CERTDX_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/certdx/kube-1.20.2}"
bin="$cache/kube-apiserver"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
for tool in go jq rsync dpkg-source; do
  command -v "$tool" >/dev/null || { echo "kube-apiserver.sh: $tool missing (run tests/lab/install-packages.sh)" >&2; exit 2; }
done
work="$(mktemp -d "${TMPDIR:-/tmp}/certdx-kube-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/src"
# deb822 files: every "Types: deb" stanza also as deb-src; one-line files: deb -> deb-src.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  sed -e 's/^Types:.*/Types: deb-src/' "$f" > "$work/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -e "$f" ] || continue
  grep -E '^deb[[:space:]]' "$f" | sed -e 's/^deb[[:space:]]/deb-src /' > "$work/parts/$(basename "$f")" || true
done
apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
echo "kube-apiserver.sh: fetching Debian's kubernetes source package" >&2
apt-get "${apt_opts[@]}" -qq update
(cd "$work/src" && apt-get "${apt_opts[@]}" -qq source kubernetes >/dev/null)
tree="$(find "$work/src" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n1)"
[ -n "$tree" ] || { echo "kube-apiserver.sh: apt-get source kubernetes produced no tree" >&2; exit 2; }
# The vendored reflect2 1.0.1 faults under Go >= 1.18 on the first custom resource; Debian's
# packaged reflect2 and json-iterator are the fixed versions.
for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  rm -rf "${tree:?}/vendor/$pkg"
  cp -r "/usr/share/gocode/src/$pkg" "$tree/vendor/$pkg"
done
echo "kube-apiserver.sh: building (several minutes on 2 cores)" >&2
(cd "$tree" && GOFLAGS=-mod=vendor GO111MODULE=on make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1) || {
  tail -n 40 "$work/build.log" >&2
  echo "kube-apiserver.sh: build failed" >&2
  exit 2
}
built="$(find "$tree/_output" -type f -name kube-apiserver -perm -u+x | head -n1)"
mkdir -p "$cache"
cp "$built" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "$bin"
