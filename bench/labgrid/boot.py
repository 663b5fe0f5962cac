"""The boot benchmark's work through labgrid 0.4.1 (QEMUDriver + ShellDriver + ShellStrategy):
power on, wait for the login and log in, run `uname -r` and check its exit code, power off.

Usage: python3 bench/labgrid/boot.py ENV_YAML
Prints one JSON line: ms since this process started at each point (as bench/boot-hwtest.ts).
"""
import json
import os
import sys
import time

def since_start():
    """ms since the process started: /proc/self/stat's start time against the boot clock."""
    with open('/proc/self/stat') as f:
        start_ticks = int(f.read().rsplit(')', 1)[1].split()[19])
    hz = os.sysconf('SC_CLK_TCK')
    return (time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / hz) * 1000


from labgrid import Environment  # noqa: E402
from labgrid.strategy.shellstrategy import Status  # noqa: E402


def main(env_file):
    env = Environment(env_file)
    target = env.get_target('main')
    strategy = target.get_driver('ShellStrategy')
    power_on = since_start()
    strategy.transition(Status.shell)
    login = since_start()  # ShellDriver's activation is the login itself
    shell = target.get_driver('ShellDriver')
    out, _, code = shell.run('uname -r')
    if code != 0:
        raise SystemExit(f'uname -r exited {code}')
    done = since_start()
    strategy.transition(Status.off)
    off = since_start()
    command = ' '.join(target.get_driver('QEMUDriver')._cmd[1:])  # pylint: disable=protected-access
    target.cleanup()
    print(json.dumps({'powerOn': power_on, 'shell': login, 'done': done, 'off': off,
                      'kernel': ' '.join(out).strip(), 'command': command}))


if __name__ == '__main__':
    main(sys.argv[1])
