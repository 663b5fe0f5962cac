#!/usr/bin/env python3
"""End-to-end checks of the armv7 image under QEMU/TCG (U-Boot from u-boot-qemu).

    python3 os/armv7/test/check.py [--out DIR] [boot|update-env|fallback|no-fallback|env-corrupt|powercut|os-update ...]

Builds the images with os/build.sh (cached in DIR, default
~/.cache/hw-test/armv7-check), then boots them.  The unbootable update is put in
place from the host, as os-update would leave it: the bundle's root written
into slot B, then active_slot=B upgrade_available=1 bootcount=0."""
import argparse, os, random, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
OS_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from qemu_board import Board  # noqa: E402

BOOTENV = os.path.join(OS_DIR, "armv7/overlay/usr/lib/hw-test/bootenv-uboot")
SECTOR = 512
BOOT_OFF = 2048 * SECTOR
ROOTB_START = 264192
PANIC = r"Kernel panic - not syncing"


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kw).stdout


BUILT = set()


def build(out, variant, bundle=False):
    """Builds each image once per run, so edits to os/ are always tested."""
    img = os.path.join(out, f"{variant}.img")
    if variant not in BUILT:
        BUILT.add(variant)
        argv = ["bash", os.path.join(OS_DIR, "build.sh"), "--arch", "armv7", "--variant", variant, "--out", img]
        if bundle:
            argv += ["--bundle-out", os.path.join(out, f"{variant}-rootfs.ext4.zst")]
        subprocess.run(argv, check=True)
    return img


def fresh(out, variant, bundle=False):
    src = build(out, variant, bundle)
    dst = os.path.join(out, f"run-{variant}.img")
    sh("cp", "--sparse=always", src, dst)
    return dst


class HostEnv:
    """The U-Boot variables of an image, read and written on the host through
    mtools and the same backend the board runs."""

    def __init__(self, img):
        self.img = img

    def _pull(self, d):
        for f in ("uboot.env", "uboot2.env"):
            subprocess.run(["mcopy", "-n", "-i", f"{self.img}@@{BOOT_OFF}", f"::{f}", d], check=True)

    def _push(self, d):
        for f in ("uboot.env", "uboot2.env"):
            subprocess.run(["mcopy", "-o", "-i", f"{self.img}@@{BOOT_OFF}", os.path.join(d, f), f"::{f}"], check=True)

    def list(self):
        with tempfile.TemporaryDirectory() as d:
            self._pull(d)
            out = subprocess.run(["sh", BOOTENV, "list"], env={**os.environ, "BOOTENV_DIR": d},
                                 check=True, text=True, capture_output=True).stdout
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    def set(self, **kv):
        with tempfile.TemporaryDirectory() as d:
            self._pull(d)
            subprocess.run(["sh", BOOTENV, "set", *[f"{k}={v}" for k, v in kv.items()]],
                           env={**os.environ, "BOOTENV_DIR": d}, check=True)
            self._push(d)

    def valid(self):
        """(copy 1 valid, copy 2 valid), checked with libubootenv's fw_printenv."""
        res = []
        with tempfile.TemporaryDirectory() as d:
            self._pull(d)
            for f in ("uboot.env", "uboot2.env"):
                cfg = os.path.join(d, f + ".cfg")
                with open(cfg, "w") as c:
                    c.write(f"{os.path.join(d, f)} 0x0 0x4000\n")
                r = subprocess.run(["fw_printenv", "-c", cfg, "bootlimit"], capture_output=True, text=True)
                res.append(r.returncode == 0 and r.stdout.strip() == "bootlimit=3")
        return tuple(res)

    def corrupt(self, name):
        with tempfile.TemporaryDirectory() as d:
            self._pull(d)
            with open(os.path.join(d, name), "r+b") as f:
                f.seek(40)
                f.write(b"\xff" * 64)
            self._push(d)


def install_update(img, bundle):
    raw = bundle[:-4]
    sh("zstd", "-q", "-f", "-d", bundle, "-o", raw)
    sh("dd", f"if={raw}", f"of={img}", "bs=1M", f"seek={ROOTB_START // 2048}", "conv=notrunc,sparse", "status=none")
    os.unlink(raw)
    HostEnv(img).set(active_slot="B", upgrade_available=1, bootcount=0)


def check_boot(out, log):
    """Markers in order, login, time to login; bootenv on the board agrees with U-Boot."""
    img = fresh(out, "v1")
    b = Board(img, log)
    times = {}
    try:
        for boot in (1, 2):
            b.power_on()
            fail = PANIC
            b.expect(r"hw-test: bootloader slot=A bootcount=0 upgrade_available=0", 60, fail)
            times[f"boot{boot} bootloader"] = b.elapsed()
            b.expect(r"Linux version ", 60, fail)
            times[f"boot{boot} kernel"] = b.elapsed()
            b.expect(r"hw-test: userspace up version=v1 slot=A", 180, fail)
            times[f"boot{boot} userspace"] = b.elapsed()
            b.expect(r"hwtest login: ", 120, fail)
            times[f"boot{boot} login"] = b.elapsed()
            b.send("root\n"); b.expect("Password: ", 30); b.send("hwtest\n")
            b.expect(r"root@hwtest:[^#]*# ", 60)
            out_, rc = b.run("bootenv list")
            assert rc == 0 and "active_slot=A" in out_ and "bootlimit=3" in out_, out_
            out_, rc = b.run("bootenv get active_slot")
            assert (out_, rc) == ("A", 0), (out_, rc)
            out_, rc = b.run("bootenv get nosuchvar")
            assert rc == 1, (out_, rc)
            b.run("sync")
            b.power_cut()  # second boot: dropbear keys exist, the steady-state time
    finally:
        b.power_cut()
    return times


def check_update_env(out, log):
    """Linux -> U-Boot -> Linux: a flag set with bootenv is counted by U-Boot and the
    health check commits it."""
    img = fresh(out, "v1")
    b = Board(img, log)
    try:
        b.power_on()
        b.login()
        _, rc = b.run("bootenv set upgrade_available=1 bootcount=0 hwt_probe=hello")
        assert rc == 0
        b.send("reboot\n")
        b.expect(r"hw-test: bootloader slot=A bootcount=1 upgrade_available=1", 120, PANIC)
        b.login()
        # The health check commits in the background after boot.
        for _ in range(60):
            o, _ = b.run("bootenv get upgrade_available; bootenv get bootcount; bootenv get hwt_probe")
            if o.split() == ["0", "0", "hello"]:
                break
            time.sleep(2)
        else:
            raise AssertionError(f"health check did not commit: {o!r}")
        b.run("sync")
    finally:
        b.power_cut()
    env = HostEnv(img)
    assert env.valid() == (True, True), env.valid()
    assert env.list()["upgrade_available"] == "0"


def check_fallback(out, log, variant="unbootable-update"):
    img = fresh(out, variant, bundle=True)
    install_update(img, os.path.join(out, f"{variant}-rootfs.ext4.zst"))
    b = Board(img, log)
    t = {}
    try:
        b.power_on()
        for n in (1, 2, 3):
            b.expect(rf"hw-test: bootloader slot=B bootcount={n} upgrade_available=1", 240, "rollback-altboot")
            b.expect(r"no /sbin/init", 120, "userspace up")
            t[f"failed boot {n}"] = b.elapsed()
        if variant == "no-fallback":
            for n in (4, 5, 6):
                b.expect(rf"hw-test: bootloader slot=B bootcount={n} upgrade_available=1", 240, "rollback-altboot")
                t[f"boot {n} still slot B"] = b.elapsed()
            return t
        b.expect(r"hw-test: rollback-altboot slot=B->A", 240, r"bootloader slot=B")
        b.expect(r"hw-test: bootloader slot=A bootcount=0 upgrade_available=0", 30)
        b.expect(r"hw-test: userspace up version=v1 slot=A", 180)
        t["back on A"] = b.elapsed()
        b.login()
        o, rc = b.run("ls /mnt/state/rollback/")
        assert "rollback-altboot-triggered" in o, o
        o, rc = b.run("bootenv get rollback_altboot; bootenv get active_slot; bootenv get upgrade_available")
        assert o.split() == ["0", "A", "0"], o
        b.run("sync")
    finally:
        b.power_cut()
    return t


def check_env_corrupt(out, log):
    """A damaged copy (power cut during a write) is ignored and repaired."""
    img = fresh(out, "v1")
    env = HostEnv(img)
    b = Board(img, log)
    try:
        for bad, other in (("uboot.env", "uboot2.env"), ("uboot2.env", "uboot.env")):
            env.set(upgrade_available=1, bootcount=1)
            env.corrupt(bad)
            assert env.valid() == ((bad != "uboot.env"), (bad != "uboot2.env"))
            b.power_on()
            b.expect(r"hw-test: bootloader slot=A bootcount=2 upgrade_available=1", 60, PANIC)
            b.expect(r"Starting kernel", 30)
            b.power_cut()
            assert env.valid() == (True, True), (bad, env.valid())
            assert env.list()["bootcount"] == "2"
        # Both copies bad: boot slot A with defaults rather than not at all.
        env.corrupt("uboot.env"); env.corrupt("uboot2.env")
        b.power_on()
        b.expect(r"hw-test: bootloader slot=A bootcount=0 upgrade_available=0", 60, PANIC)
        b.power_cut()
    finally:
        b.power_cut()


def check_powercut(out, log, rounds=8):
    """Hard power cuts while Linux rewrites the variables in a loop: afterwards one
    copy is always valid, holds one whole set, and U-Boot boots from it."""
    img = fresh(out, "v1")
    env = HostEnv(img)
    b = Board(img, log)
    results = []
    try:
        for r in range(rounds):
            b.power_on()
            b.login()
            b.send("i=0; while :; do i=$((i+1)); bootenv set hwt_a=$i hwt_b=$i || break; done\n")
            time.sleep(random.uniform(2.0, 6.0))
            b.power_cut()
            v = env.valid()
            vars_ = env.list()
            assert v[0] or v[1], v
            assert vars_.get("hwt_a") == vars_.get("hwt_b"), vars_
            results.append(("ok" if v == (True, True) else f"torn copy {v}", vars_.get("hwt_a")))
        b.power_on()
        b.expect(r"hw-test: bootloader slot=A bootcount=0 upgrade_available=0", 60, PANIC)
        b.expect(r"hw-test: userspace up", 180)
    finally:
        b.power_cut()
    return results


class Serve:
    """A local HTTP server for bundles; the guest reaches it at 10.0.2.2 (slirp)."""

    def __init__(self, d):
        import http.server, functools, threading
        h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=d)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()


def check_os_update(out, log):
    """The real agent: v1 -> v2 over the network, trial boot, health check commits;
    then an unbootable update written by os-update falls back to the old slot."""
    img = fresh(out, "v1")
    build(out, "v2", bundle=True)
    build(out, "unbootable-update", bundle=True)
    srv = Serve(out)
    b = Board(img, log)
    t = {}
    try:
        b.power_on()
        b.login()
        sha = open(os.path.join(out, "v2-rootfs.ext4.zst.sha256")).read().split()[0]
        o, rc = b.run(f"wget -q -O - http://10.0.2.2:{srv.port}/v2-rootfs.ext4.zst | os-update - --sha256 {sha}", 600)
        assert rc == 0, o
        b.send("reboot\n")
        b.expect(r"hw-test: bootloader slot=B bootcount=1 upgrade_available=1", 120, PANIC)
        b.expect(r"hw-test: userspace up version=v2 slot=B", 180, PANIC)
        b.login()
        for _ in range(60):
            o, _ = b.run("bootenv get upgrade_available; bootenv get active_slot")
            if o.split() == ["0", "B"]:
                break
            time.sleep(2)
        else:
            raise AssertionError(f"v2 not committed: {o!r}")
        t["v2 committed on B"] = True

        sha = open(os.path.join(out, "unbootable-update-rootfs.ext4.zst.sha256")).read().split()[0]
        o, rc = b.run(f"wget -q -O - http://10.0.2.2:{srv.port}/unbootable-update-rootfs.ext4.zst | os-update - --sha256 {sha}", 600)
        assert rc == 0, o
        b.send("reboot\n")
        for n in (1, 2, 3):
            b.expect(rf"hw-test: bootloader slot=A bootcount={n} upgrade_available=1", 240, "rollback-altboot")
        b.expect(r"hw-test: rollback-altboot slot=A->B", 240, r"bootloader slot=A")
        b.expect(r"hw-test: bootloader slot=B bootcount=0 upgrade_available=0", 30)
        b.expect(r"hw-test: userspace up version=v2 slot=B", 180)
        b.login()
        o, _ = b.run("ls /mnt/state/rollback/")
        assert "rollback-altboot-triggered" in o, o
        b.run("sync")
        t["unbootable A fell back to B"] = True
    finally:
        b.power_cut()
        srv.close()
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.expanduser("~/.cache/hw-test/armv7-check"))
    ap.add_argument("checks", nargs="*", default=["boot", "update-env", "fallback", "no-fallback", "env-corrupt", "powercut", "os-update"])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    log = os.path.join(a.out, "serial.log")
    failed = 0
    for c in a.checks:
        t0 = time.monotonic()
        try:
            fn = {
                "boot": check_boot, "update-env": check_update_env, "fallback": check_fallback,
                "no-fallback": lambda o, l: check_fallback(o, l, "no-fallback"),
                "env-corrupt": check_env_corrupt, "powercut": check_powercut,
                "os-update": check_os_update,
            }[c]
            with open(log, "a") as f:
                f.write(f"\n===== {c} =====\n")
            res = fn(a.out, log)
            print(f"PASS {c} ({time.monotonic() - t0:.0f} s) {res if res else ''}", flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {c}: {type(e).__name__}: {e}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
