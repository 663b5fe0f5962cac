#!/usr/bin/env bash
# npm run setup: installs the Debian packages hw-test needs and builds the default images that the
# virtual boards boot. Idempotent: it says what it does and skips what is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Host tools. Kernels and the device OS's own packages (busybox, dropbear, avahi) are NOT installed
# on the host: os/build.sh downloads and unpacks them into the image.
PACKAGES=(
	qemu-system-x86 qemu-system-arm qemu-utils u-boot-qemu # virtual boards
	grub-pc-bin grub-common u-boot-tools                   # their bootloaders
	rauc squashfs-tools openssl                            # RAUC bundles of the os/rauc variants, built and signed here
	ostree                                                 # the OSTree variant's sysroot (os/ostree)
	mtools dosfstools e2fsprogs fdisk cpio kmod binutils   # image building without mounting (readelf)
	debootstrap openssl                                    # the stock Debian fixture; rpi-boot's userconf.txt hash
	xz-utils zstd bzip2 unzip bmap-tools                   # image formats, bmaptool for comparison
	gcc libc6-dev liblzma-dev                              # the flasher's in-process xz decoder (scripts/build-native.sh)
	dnsmasq-base iproute2 iputils-ping openssh-client socat busybox-static # networks in namespaces
	uhubctl usbsdmux gpiod hostapd                         # real rigs: USB hub power, LXA USB-SD-Mux, libgpiod tools, WiFi AP
	default-jre-headless libxml2-utils                     # Allure HTML, JUnit schema validation
	groovy                                                 # groovyc parses both Jenkinsfiles in npm test
	chromium                                               # the dashboard's browser test
)

[[ $(uname -s) == Linux ]] || die "hw-test runs on Linux (this is $(uname -s))"
if ! command -v apt-get >/dev/null; then
	die "no apt-get: install by hand the equivalents of: ${PACKAGES[*]}"
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# armhf packages are downloaded (never installed) for the qemu-armv7 image.
need_armhf=0
dpkg --print-foreign-architectures | grep -qx armhf || need_armhf=1

if ((${#missing[@]} > 0 || need_armhf)); then
	[[ $(id -u) -eq 0 ]] || die "installing ${missing[*]:-the armhf architecture} needs root (run: sudo npm run setup)"
	if ((need_armhf)); then
		say "adding the armhf architecture (to download the qemu-armv7 image's packages)"
		dpkg --add-architecture armhf
	fi
	say "apt-get update"
	# A mirror mid-sync can fail one index (seen: bookworm-security armhf); the install below says
	# whether what we need is still there.
	apt-get update -q >/tmp/hw-test-apt-update.log 2>&1 || say "apt-get update reported errors (see /tmp/hw-test-apt-update.log); going on"
	if ((${#missing[@]} > 0)); then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/hw-test-apt-install.log 2>&1 ||
			die "apt-get install failed (see /tmp/hw-test-apt-install.log)"
	fi
else
	say "Debian packages: all ${#PACKAGES[@]} present"
fi

[[ -d node_modules ]] || die "node_modules is missing: run npm ci first"
[[ -f dist/rig/cli/main.js ]] || { say "building the controller"; npm run --silent build; }
# Again after the packages above: npm ci may have run before gcc or liblzma-dev were there.
bash scripts/build-native.sh

# The default images of the virtual boards, cached by the hash of their inputs.
for arch in x86_64 armv7; do
	node --enable-source-maps dist/rig/cli/main.js image build --arch "$arch" --variant v1 --quiet-if-cached >/dev/null
done
# The stock Debian 12 image (docs/your-os.md): debootstrap, so root and Debian's mirrors; minutes
# on a fresh machine, cached by the hash of os/stock-debian/ afterwards.
if [[ $(id -u) -eq 0 ]]; then
	node --enable-source-maps dist/rig/cli/main.js image build --stock debian-12 --quiet-if-cached >/dev/null
else
	say "not root: the stock Debian image (npm test's debian-12 fixture) is not built; those tests will skip"
fi
# The virtual access point's agent (hostapd, iw, busybox from Debian packages) for the wifi suite.
for arch in x86_64 armv7; do
	node --input-type=module -e "await (await import('./dist/rig/net/virtual-ap-agent.js')).ensureApAgent('$arch')" ||
		die "building the $arch virtual access point agent failed"
done
say "ready"
