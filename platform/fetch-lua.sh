#!/usr/bin/env bash
# Fetches the source of Debian's lua5.4 package (upstream Lua 5.4 with Debian's patches) with
# `apt-get source`, into DEST (default build/lua-src), for the Windows and WebAssembly builds.
# apt runs on a private configuration under build/apt: the system's Debian entries turned into
# deb-src entries, its own package lists; nothing outside build/ changes. Needs dpkg-dev.
set -euo pipefail
dest=${1:-build/lua-src}
apt_dir=$(pwd)/build/apt
rm -rf "$apt_dir" "$dest"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/get"
# deb822 files (Types: deb) and one-line lists (deb URL SUITE ...) alike
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sources) sed -e 's/^Types:.*/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")" ;;
    *) sed -n -e 's/^deb \(.*\)/deb-src \1/p' "$f" > "$apt_dir/sources.list.d/$(basename "$f" .list)-src.list" ;;
  esac
done
apt_options=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root"
  -o "Debug::NoLocking=1" -qq)
apt-get "${apt_options[@]}" update
(cd "$apt_dir/get" && apt-get "${apt_options[@]}" source lua5.4 >/dev/null)
mkdir -p "$(dirname "$dest")"
mv "$apt_dir"/get/lua5.4-*/ "$dest"
# Debian's patch 0002 makes the POSIX luaconf.h include this header, which Debian's build writes:
# the multiarch directory in the default C module path (/usr/lib/<triplet>/lua/5.4)
echo '#define DEB_HOST_MULTIARCH "'"$(dpkg-architecture -qDEB_HOST_MULTIARCH)"'"' > "$dest/src/lua5.4-deb-multiarch.h"
echo "Lua source: $(cd "$apt_dir/get" && ls lua5.4_*.dsc) in $dest"
