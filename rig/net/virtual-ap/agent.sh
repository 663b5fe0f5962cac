#!/bin/sh
# The virtual rig's access point, run ON the virtual board by the rig (rig/net/virtual-ap.ts;
# docs/wiring.md, "WiFi on a virtual board", says what is simulated and why). The rig uploads this
# folder and runs `busybox sh agent.sh COMMAND` over SSH:
#
#   plug                 the "hardware": plugs two radios in on one simulated medium (the kernel's
#                        mac80211_hwsim, loaded with the board's own modprobe from the board's own
#                        kernel); prints the board's radio and the AP's radio
#   up ADDR/PREFIX FIRST LAST MASK
#                        moves the AP's radio into a network namespace of its own (the board's
#                        network stack never sees it again), addresses it, starts hostapd with
#                        ./hostapd.conf (written by the rig) and a DHCP server for FIRST..LAST
#   stations             hostapd_cli all_sta
#   leases               the DHCP server's leases (dumpleases)
#   log                  hostapd's output
#   ping ADDR            one ping from the AP's side
#   serve BYTES PORT     an HTTP server on the AP's side, with a file of BYTES at /blob; prints url=
#   down                 prints hostapd's output, then stops all of it, unplugs the radios and
#                        removes this folder
#
# Everything runs with this folder's own programs (PATH is ./bin only): the board lends its kernel,
# its modprobe (to load the driver, as it would for a dongle) and a shell to start this one.
# Exit 3 means the board cannot drive the radio (no driver); any other failure is the rig's.
# Nothing printed here holds the passphrase: it is only in ./hostapd.conf (mode 0600).
D=${0%/*}
PATH=$D/bin
export PATH
NS_FILE=$D/run/netns

fail() {
	echo "agent: $*" >&2
	exit 1
}
in_ns() { nsenter --net="$NS_FILE" "$@"; }

# The interface of a phy (the radio), from sysfs: /sys/class/net/IF/phy80211 -> .../phyN.
iface_of() {
	for n in /sys/class/net/*; do
		[ "$(readlink "$n/phy80211" 2>/dev/null | sed 's#.*/##')" = "$1" ] && { echo "${n##*/}"; return 0; }
	done
	return 1
}

plug() {
	[ -d /sys/module/mac80211_hwsim ] && fail "mac80211_hwsim is loaded already: the rig plugs the virtual radios in itself"
	before=" $(ls /sys/class/ieee80211 2>/dev/null | tr '\n' ' ')"
	modprobe=
	for m in /sbin/modprobe /usr/sbin/modprobe /bin/modprobe /usr/bin/modprobe; do
		[ -x "$m" ] && { modprobe=$m; break; }
	done
	if [ -z "$modprobe" ]; then
		echo "agent: the board has no modprobe to load the radio's driver (mac80211_hwsim)" >&2
		exit 3
	fi
	if ! out=$("$modprobe" mac80211_hwsim radios=2 2>&1); then
		echo "agent: the board cannot load the radio's driver: $modprobe mac80211_hwsim radios=2: $out" >&2
		exit 3
	fi
	new=
	for p in $(ls /sys/class/ieee80211); do
		case $before in *" $p "*) ;; *) new="$new ${p#phy}" ;; esac
	done
	# hwsim registers its radios in order: the first is the board's, the second the AP's.
	set -- $(for n in $new; do echo "$n"; done | sort -n)
	[ $# -eq 2 ] || fail "expected 2 new radios after loading mac80211_hwsim, found $#:$new"
	board_phy=phy$1 ap_phy=phy$2
	i=0
	until board_iface=$(iface_of "$board_phy") && ap_iface=$(iface_of "$ap_phy"); do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "the radios $board_phy and $ap_phy have no network interface"
		sleep 0.1
	done
	ap_mac=$(cat "/sys/class/net/$ap_iface/address")
	board_mac=$(cat "/sys/class/net/$board_iface/address")
	mkdir -p "$D/run"
	printf 'board_phy=%s\nboard_iface=%s\nboard_mac=%s\nap_phy=%s\nap_iface=%s\nap_mac=%s\n' \
		"$board_phy" "$board_iface" "$board_mac" "$ap_phy" "$ap_iface" "$ap_mac" | tee "$D/run/radios"
}

# A daemon in the AP's namespace, detached from the SSH session, its pid in run/NAME.pid.
start() {
	name=$1
	shift
	setsid nsenter --net="$NS_FILE" "$@" </dev/null >"$D/run/$name.log" 2>&1 &
	echo $! >"$D/run/$name.pid"
}

up() {
	[ -f "$D/run/radios" ] || fail "up before plug"
	. "$D/run/radios"
	touch "$NS_FILE"
	unshare --net="$NS_FILE" true || fail "cannot make the AP's network namespace"
	iw phy "$ap_phy" set netns name "$NS_FILE" || fail "cannot move $ap_phy into the AP's namespace"
	in_ns ip link set lo up || fail "no loopback in the AP's namespace"
	in_ns ip addr add "$1" dev "$ap_iface" || fail "cannot address $ap_iface with $1"
	printf 'gateway=%s\n' "${1%/*}" >>"$D/run/radios"
	start hostapd hostapd "$D/hostapd.conf"
	i=0
	until grep -q 'AP-ENABLED' "$D/run/hostapd.log"; do
		kill -0 "$(cat "$D/run/hostapd.pid")" 2>/dev/null ||
			fail "hostapd exited: $(tail -n 5 "$D/run/hostapd.log" | tr '\n' '|')"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "hostapd: no AP-ENABLED in 20 s: $(tail -n 5 "$D/run/hostapd.log" | tr '\n' '|')"
		sleep 0.1
	done
	printf 'start %s\nend %s\ninterface %s\nlease_file %s\npidfile %s\noption subnet %s\n' \
		"$2" "$3" "$ap_iface" "$D/run/udhcpd.leases" "$D/run/udhcpd.daemon.pid" "$4" >"$D/run/udhcpd.conf"
	touch "$D/run/udhcpd.leases"
	start udhcpd udhcpd -f "$D/run/udhcpd.conf"
	sleep 0.2
	kill -0 "$(cat "$D/run/udhcpd.pid")" 2>/dev/null || fail "udhcpd exited: $(tail -n 3 "$D/run/udhcpd.log" | tr '\n' '|')"
	echo "bssid=$ap_mac"
	echo "ap_iface=$ap_iface"
}

down() {
	cat "$D/run/hostapd.log" 2>/dev/null
	for p in "$D"/run/*.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	sleep 0.3
	umount "$NS_FILE" 2>/dev/null
	# The radio in the namespace comes back when the namespace goes; then both are unplugged.
	for m in /sbin/modprobe /usr/sbin/modprobe /bin/modprobe /usr/bin/modprobe; do
		[ -x "$m" ] && { "$m" -r mac80211_hwsim 2>/dev/null; break; }
	done
	rm -rf "$D"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
plug) plug ;;
up) [ $# -eq 4 ] || fail "usage: up ADDR/PREFIX FIRST LAST MASK"; up "$@" ;;
stations)
	. "$D/run/radios"
	hostapd_cli -p "$D/run/hostapd" -i "$ap_iface" all_sta
	;;
leases)
	# udhcpd writes its lease file on SIGUSR1 (or every auto_time).
	kill -USR1 "$(cat "$D/run/udhcpd.pid")" 2>/dev/null && sleep 0.2
	dumpleases -a -f "$D/run/udhcpd.leases"
	;;
log) cat "$D/run/hostapd.log" ;;
ping) in_ns ping -c 1 -W 3 "$1" ;;
serve)
	. "$D/run/radios"
	mkdir -p "$D/www"
	dd if=/dev/zero of="$D/www/blob" bs=1024 count=$(($1 / 1024)) 2>/dev/null || fail "cannot write $D/www/blob"
	start httpd httpd -f -p "$gateway:$2" -h "$D/www"
	sleep 0.2
	kill -0 "$(cat "$D/run/httpd.pid")" 2>/dev/null || fail "httpd exited: $(cat "$D/run/httpd.log")"
	echo "url=http://$gateway:$2/blob"
	;;
down) down ;;
*) fail "unknown command: $cmd (plug, up, stations, leases, log, ping, serve, down)" ;;
esac
