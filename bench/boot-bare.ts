/**
 * The board alone: the QEMU command hw-test runs for qemu-x86-64 (same machine, memory, disk,
 * NIC, `-accel tcg`), with the serial console on stdio instead of a pty and not paused (`-S` is
 * hw-test's, to attach the console first). Measures from the process start to `login:`, then
 * does the benchmark's work with the fewest possible steps (user, password, `uname -r` with its
 * exit code, the prompt) and kills QEMU. Usage: `node dist/bench/boot-bare.js DISK`.
 * Prints one JSON line: ms since QEMU's spawn at each point.
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { loadBoard } from '../rig/catalog/board.js';
import { qemuArgs } from '../rig/qemu/qemu.js';

/** hw-test's own command line, with the console moved to stdio and no QMP nor -S. */
export function bareArgs(disk: string): { binary: string; args: string[] } {
  const type = loadBoard('qemu-x86-64');
  const args = qemuArgs({ type, disk, name: 'bench-bare' }, '/nonexistent/qmp.sock', 'tcg');
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-S') continue;
    if (a === '-qmp') {
      i++;
      continue;
    }
    if (a === '-chardev' && args[i + 1] === 'pty,id=con') {
      out.push(a, 'stdio,id=con');
      i++;
      continue;
    }
    out.push(a);
  }
  return { binary: type.qemu!.binary, args: out };
}

function run(disk: string): Promise<Record<string, number>> {
  const { binary, args } = bareArgs(disk);
  const t0 = performance.now();
  const q = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const marks: Record<string, number> = {};
  let text = '';
  // Each step: what ends it on the console, and what to type then. busybox ash asks for the
  // cursor position (ESC [6n) after its prompt.
  /* eslint-disable no-control-regex */
  const steps: [string, RegExp, string | undefined][] = [
    ['login', /login:\s*$/, 'root\n'],
    ['password', /Password:\s*$/, 'hwtest\n'],
    ['shell', /#\s*(?:\x1b\[6n)?$/, 'uname -r; echo "@@rc=$?"\n'],
    ['done', /^@@rc=(\d+)[\s\S]*#\s*(?:\x1b\[6n)?$/m, undefined],
  ];
  /* eslint-enable no-control-regex */
  let step = 0;
  return new Promise((resolve, reject) => {
    q.stdout.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      const cur = steps[step];
      if (!cur) return;
      const m = cur[1].exec(text);
      if (!m) return;
      marks[cur[0]] = performance.now() - t0;
      if (cur[0] === 'done' && m[1] !== '0') reject(new Error(`uname -r exited ${m[1]}`));
      text = '';
      step++;
      if (cur[2]) q.stdin.write(cur[2]);
      else q.kill('SIGKILL');
    });
    q.on('close', () => {
      marks.off = performance.now() - t0;
      if (step < steps.length) reject(new Error(`QEMU ended before ${steps[step][0]}: ${text.slice(-300)}`));
      else resolve(marks);
    });
  });
}

const disk = process.argv[2];
if (disk && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run(disk).then(
    (m) => console.log(JSON.stringify({ ...m, command: bareArgs(disk).args.join(' ') })),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
