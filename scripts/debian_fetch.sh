#!/usr/bin/env bash
# Fetch Debian packages of another suite and unpack them into a folder, without installing
# anything into the system: a throwaway apt configuration (its own sources list, package lists
# and cache under ~/.cache/ketui/apt-SUITE) that reuses the Debian mirror this machine's apt
# sources name, `apt-get download`, then `dpkg -x`.
#
#   scripts/debian_fetch.sh SUITE DEST PACKAGE[=VERSION]...
#   scripts/debian_fetch.sh --closure SUITE PACKAGE...   # print their golang-* dependency closure
#
# A pinned VERSION that the suite no longer has falls back to the suite's current one (said on
# stderr). Downloaded .deb files are kept in the cache; a second run downloads nothing new.
set -euo pipefail

closure=false
if [ "${1:-}" = "--closure" ]; then
  closure=true
  shift
fi
suite=$1
shift
if ! $closure; then
  dest=$1
  shift
fi

# The Debian mirror of this machine's apt sources (deb822 .sources files or sources.list),
# taken from the entry for its own release; no host name is written here.
mirror_url() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  local url=""
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -r "$file" ] || continue
    url=$(awk -v want="$codename" '
      /^[[:space:]]*$/ { if (uris != "" && hit) { print uris; exit } uris = ""; hit = 0; next }
      /^URIs:/ { uris = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) hit = 1 }
      END { if (uris != "" && hit) print uris }
    ' "$file" | head -n 1)
    [ -n "$url" ] && break
  done
  if [ -z "$url" ] && [ -r /etc/apt/sources.list ]; then
    url=$(awk -v want="$codename" '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i + 1) == want) { print $i; exit } }' /etc/apt/sources.list)
  fi
  if [ -z "$url" ]; then
    echo "debian_fetch: no Debian mirror for '$codename' in the apt sources" >&2
    return 1
  fi
  echo "$url"
}

cache="${XDG_CACHE_HOME:-$HOME/.cache}/ketui/apt-$suite"
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror_url) $suite main" \
  > "$cache/sources.list"
apt_opts=(
  -o Dir::Etc::SourceList="$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$cache/lists" -o Dir::Cache="$cache" -o APT::Sandbox::User=root
  -o Debug::NoLocking=1
)
apt-get "${apt_opts[@]}" -qq update

if $closure; then
  # Go source packages only (Architecture: all, or the toolchain): what a GOPATH build reads.
  apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "$@" | grep '^golang-' | sort -u
  exit 0
fi

cd "$cache/debs"
if ! apt-get "${apt_opts[@]}" -qq download "$@" 2>/dev/null; then
  unpinned=()
  for package in "$@"; do unpinned+=("${package%%=*}"); done
  echo "debian_fetch: $* not all in $suite any more; taking its current ${unpinned[*]}" >&2
  apt-get "${apt_opts[@]}" -qq download "${unpinned[@]}"
  set -- "${unpinned[@]}"
fi
cd - >/dev/null

rm -rf "$dest"
mkdir -p "$dest"
for package in "$@"; do
  name=${package%%=*}
  version=${package#*=}
  [ "$version" = "$package" ] && version='*'
  # the newest matching file (a pinned one, or what the fallback fetched)
  deb=$(ls -t "$cache/debs/${name}_"${version//:/%3a}_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || deb=$(ls -t "$cache/debs/${name}_"*.deb | head -n 1)
  dpkg -x "$deb" "$dest"
done
