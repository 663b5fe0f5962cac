# shellcheck shell=bash
# Fetch Debian packages and their library dependencies into a per-arch cache.
# Sourced by os/build.sh; needs DEB_ARCH (amd64|armhf) and DEB_CACHE.

# Only library packages are followed: the daemons' other Depends (adduser, dbus,
# debconf, init-system-helpers...) are packaging glue we replace with our own init.
_deb_follow() {
	case "$1" in
	lib* | zlib1g) return 0 ;;
	*) return 1 ;;
	esac
}

# Prints the package names in the closure of "$@", one per line. One apt-cache
# call per dependency level: apt-cache costs about a second per start.
deb_resolve() {
	local -A seen=()
	local -a level=("$@") next
	local pkg
	while ((${#level[@]})); do
		next=()
		for pkg in "${level[@]}"; do
			[[ -n ${seen[$pkg]:-} ]] && continue
			seen[$pkg]=1
			echo "$pkg"
		done
		while read -r pkg; do
			[[ -z ${seen[$pkg]:-} ]] && _deb_follow "$pkg" && next+=("$pkg")
		done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances "${level[@]/%/:$DEB_ARCH}" 2>/dev/null |
			awk '$1 == "Depends:" || $1 == "PreDepends:" || $1 == "|Depends:" { print $2 }' |
			grep -v '^<' | sed 's/:.*//' | sort -u)
		level=("${next[@]}")
	done
}

# Downloads every package of the closure not already in the cache, then prints
# the .deb paths (one per package, newest name wins if several are cached).
deb_fetch() {
	local -a pkgs missing=()
	local pkg
	local memo
	mkdir -p "$DEB_CACHE"
	memo="$DEB_CACHE/closure-$(printf '%s\n' rules-2 "$@" | sort | sha256sum | cut -c1-16).list"
	if [[ ! -s $memo ]]; then
		deb_resolve "$@" >"$memo.tmp" && mv "$memo.tmp" "$memo"
	fi
	mapfile -t pkgs <"$memo"
	for pkg in "${pkgs[@]}"; do
		compgen -G "$DEB_CACHE/${pkg}_*_${DEB_ARCH}.deb" >/dev/null ||
			compgen -G "$DEB_CACHE/${pkg}_*_all.deb" >/dev/null ||
			missing+=("$pkg:$DEB_ARCH")
	done
	if ((${#missing[@]})); then
		echo "build: downloading ${#missing[@]} packages for $DEB_ARCH" >&2
		(cd "$DEB_CACHE" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
			{ echo "build: apt-get download failed for: ${missing[*]}" >&2; return 1; }
	fi
	for pkg in "${pkgs[@]}"; do
		compgen -G "$DEB_CACHE/${pkg}_*_${DEB_ARCH}.deb" ||
			compgen -G "$DEB_CACHE/${pkg}_*_all.deb" ||
			{ echo "build: $pkg missing from $DEB_CACHE after download" >&2; return 1; }
	done | sort -V | awk -F_ '{ last[$1] = $0 } END { for (p in last) print last[p] }'
}
