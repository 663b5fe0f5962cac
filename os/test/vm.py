#!/usr/bin/env python3
"""Drive a reference OS image under QEMU (TCG) over its serial console.

Developer check for os/build.sh output, not part of the suites:
    python3 os/test/vm.py IMAGE boot              # login, print timings
    python3 os/test/vm.py IMAGE update BUNDLE     # os-update, expect commit or rollback
    python3 os/test/vm.py IMAGE panic|hang
The image is modified in place (state, bootloader environment): use a copy.
"""
import os, re, select, subprocess, sys, time

MARK_BL = re.compile(rb"hw-test: bootloader slot=(\w) bootcount=(\d+) upgrade_available=(\d)")
MARK_UP = re.compile(rb"hw-test: userspace up version=(\S+) slot=(\w)")
LOGIN = re.compile(rb"(\S+) login: ")
PROMPT = re.compile(rb"root@[^:\s]+:[^#\r\n]*# ")


class VM:
    def __init__(self, image, arch="x86_64", log=None):
        if arch == "x86_64":
            cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic",
                   "-drive", f"file={image},format=raw,if=virtio",
                   "-nic", "user,model=virtio-net-pci"]
        else:
            raise SystemExit(f"arch {arch} not handled here")
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""
        self.t0 = time.monotonic()
        self.log = open(log, "wb") if log else None

    def elapsed(self):
        return time.monotonic() - self.t0

    def expect(self, pattern, timeout=60):
        """Wait for pattern (bytes regex, or list of them); returns (index, match)."""
        pats = pattern if isinstance(pattern, list) else [pattern]
        pats = [re.compile(p) if isinstance(p, bytes) else p for p in pats]
        end = time.monotonic() + timeout
        while True:
            for i, p in enumerate(pats):
                m = p.search(self.buf)
                if m:
                    self.buf = self.buf[m.end():]
                    return i, m
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timeout waiting for {[p.pattern for p in pats]}; tail: {self.buf[-400:]!r}")
            r, _, _ = select.select([self.p.stdout], [], [], min(left, 0.5))
            if r:
                data = os.read(self.p.stdout.fileno(), 65536)
                if not data:
                    raise EOFError("qemu exited")
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                if self.log:
                    self.log.write(data)
                self.buf += data

    def send(self, s):
        self.p.stdin.write(s.encode() if isinstance(s, str) else s)
        self.p.stdin.flush()

    def login(self, timeout=120):
        self.expect(LOGIN, timeout)
        self.send("root\n")
        self.expect(rb"Password: ", 20)
        self.send("hwtest\n")
        self.expect(PROMPT, 20)

    def run(self, cmd, timeout=60):
        self.send(cmd + "\n")
        _, m = self.expect(PROMPT, timeout)
        return m

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def note(msg):
    print(f"\n=== {msg}", flush=True)


def boot_and_login(vm):
    _, m = vm.expect(MARK_BL, 60)
    note(f"bootloader marker at {vm.elapsed():.1f}s: {m.group(0).decode()}")
    vm.expect(rb"Linux version", 60)
    note(f"Linux version at {vm.elapsed():.1f}s")
    _, m = vm.expect(MARK_UP, 120)
    note(f"userspace at {vm.elapsed():.1f}s: {m.group(0).decode()}")
    vm.login()
    note(f"logged in at {vm.elapsed():.1f}s")
    return m.group(1).decode(), m.group(2).decode()


def main():
    image, what = sys.argv[1], sys.argv[2]
    vm = VM(image, log=os.environ.get("VM_LOG"))
    try:
        if what == "boot":
            boot_and_login(vm)
            vm.run("cat /etc/os-release; bootenv list; mount; ip addr show eth0; netstat -ltn; ls -la /mnt/state/rollback")
            time.sleep(3)
            vm.run("ip addr show eth0; ps")
        elif what == "panic":
            _, m = vm.expect(rb"Kernel panic - not syncing[^\r\n]*", 90)
            note(f"panic at {vm.elapsed():.1f}s: {m.group(0).decode()}")
        elif what == "hang":
            try:
                i, m = vm.expect([LOGIN, rb"Kernel panic", MARK_UP], 60)
                note(f"UNEXPECTED: {m.group(0)!r}")
                sys.exit(1)
            except TimeoutError:
                note("no login, no panic within 60 s")
        elif what == "update":
            bundle = sys.argv[3]
            expect = sys.argv[4]  # commit | altboot | health | stuck
            boot_and_login(vm)
            sha = open(bundle + ".sha256").read().split()[0]
            # Serve the bundle on the host's loopback; QEMU user networking maps
            # 10.0.2.2 to it, so nothing is exposed beyond this host.
            import functools, http.server, threading
            handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                        directory=os.path.dirname(os.path.abspath(bundle)))
            handler.log_message = lambda *a: None
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            port = srv.server_address[1]
            t = time.monotonic()
            vm.run(f"wget -q -O /tmp/bundle http://10.0.2.2:{port}/{os.path.basename(bundle)}; ls -l /tmp/bundle", 300)
            note(f"bundle transferred in {time.monotonic() - t:.1f}s")
            # As the OS profile does it: the agent reboots by itself.
            vm.send(f"os-update /tmp/bundle --sha256 {sha} --reboot\n")
            vm.expect(rb"hw-test: os-update done", 300)
            note(f"os-update done at {vm.elapsed():.1f}s")
            if expect == "commit":
                version, slot = boot_and_login(vm)
                vm.expect(rb"health-check passed", 90)
                vm.run("bootenv list; cat /etc/os-release; ls /mnt/state/rollback")
                note(f"committed: version={version} slot={slot}")
            elif expect == "altboot":
                vm.expect(rb"hw-test: rollback-altboot slot=\w->\w", 300)
                note(f"bootloader fell back at {vm.elapsed():.1f}s")
                version, slot = boot_and_login(vm)
                vm.run("bootenv list; cat /mnt/state/rollback/*")
                note(f"back: version={version} slot={slot}")
            elif expect == "health":
                vm.expect(rb"rollback-health-triggered", 180)
                note(f"health rollback at {vm.elapsed():.1f}s")
                version, slot = boot_and_login(vm)
                vm.run("bootenv list; cat /mnt/state/rollback/*")
                note(f"back: version={version} slot={slot}")
            elif expect == "stuck":
                t = time.monotonic()
                n = 0
                while time.monotonic() - t < 150:
                    try:
                        i, m = vm.expect([MARK_BL, rb"rollback-altboot", MARK_UP], 150 - (time.monotonic() - t))
                    except TimeoutError:
                        break
                    if i != 0:
                        note(f"UNEXPECTED {m.group(0)!r}")
                        sys.exit(1)
                    n += 1
                note(f"no fallback: {n} bootloader attempts, never came back")
        else:
            raise SystemExit(f"unknown action {what}")
    finally:
        vm.close()


if __name__ == "__main__":
    main()
