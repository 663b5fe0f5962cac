"""A qemu-armv7 board for the os/armv7 checks: the same command line the
TypeScript driver uses, with the serial line on a unix socket (the driver uses a
pty; both are plain chardevs) so that nothing printed before we connect is lost."""
import os, re, signal, socket, subprocess, tempfile, time

UBOOT = "/usr/lib/u-boot/qemu_arm/u-boot.bin"


def qemu_argv(disk, serial, extra=()):
    return [
        "qemu-system-arm", "-M", "virt", "-accel", "tcg", "-cpu", "cortex-a15", "-m", "512",
        "-smp", "1", "-bios", UBOOT,
        "-drive", f"if=none,file={disk},format=raw,id=disk0,cache=writeback",
        "-device", "virtio-blk-device,drive=disk0",
        "-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0",
        "-display", "none", "-monitor", "none", "-serial", serial, *extra,
    ]


class Board:
    def __init__(self, disk, log):
        self.disk, self.logpath = disk, log
        self.buf = ""
        self.proc = None

    def power_on(self):
        self.dir = tempfile.mkdtemp(prefix="hwt-armv7-")
        sock = os.path.join(self.dir, "serial.sock")
        self.log = open(self.logpath, "a")
        self.proc = subprocess.Popen(qemu_argv(self.disk, f"unix:{sock},server=on,wait=on"),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(sock)
        self.s.setblocking(False)
        self.t0 = time.monotonic()
        self.buf = ""

    def power_cut(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        try:
            self.s.close()
        except Exception:
            pass

    def elapsed(self):
        return time.monotonic() - self.t0

    def _read(self, timeout):
        import select
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return
        try:
            data = self.s.recv(65536)
        except BlockingIOError:
            return
        if not data:
            raise EOFError("serial closed (qemu exited)")
        text = data.decode("utf-8", "replace")
        self.log.write(text)
        self.log.flush()
        self.buf += text

    def expect(self, pattern, timeout=120, fail=None):
        """Waits for regex pattern; returns the match. Consumes output up to it."""
        rx = re.compile(pattern)
        frx = re.compile(fail) if fail else None
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            f = frx.search(self.buf) if frx else None
            if f and (not m or f.start() < m.start()):
                raise AssertionError(f"unexpected {f.group(0)!r} while waiting for {pattern!r}")
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timeout waiting for {pattern!r}; tail: {self.buf[-400:]!r}")
            self._read(min(left, 0.5))

    def send(self, text):
        self.s.sendall(text.encode())

    def login(self, host="hwtest"):
        self.expect(rf"{host} login: ", 180)
        self.send("root\n")
        self.expect("Password: ", 30)
        self.send("hwtest\n")
        self.expect(rf"root@{host}:[^#]*# ", 60)

    def run(self, cmd, timeout=60):
        """Runs cmd in the shell; returns (output, exit status)."""
        tag = f"__E{int(time.monotonic()*1000)}__"
        self.send(f"{cmd}; echo {tag}$?\n")
        m = self.expect(rf"(?s)\n(.*?){tag}(\d+)", timeout)
        out = m.group(1)
        self.expect(r"# ", 10)
        return out.strip().replace("\r", ""), int(m.group(2))
