#!/usr/bin/env python3
"""Whole-process cost of commands side by side: each spawned (posix_spawn, output to /dev/null)
once per round in a rotating order; prints the median wall time, the mean CPU time (user +
system, from wait4) and the mean minor page faults of each. For two builds of one command:

  python3 scripts/bench_exec.py 400 "/tmp/a --version" "/tmp/b --version"
  python3 scripts/bench_exec.py 150 "/tmp/a verify --insecure-registry R@D" "/tmp/b verify ..."

A leading VAR=value sets an environment variable for that command only.
Usage: bench_exec.py ROUNDS COMMAND...
"""
import os
import statistics
import sys
import time

rounds = int(sys.argv[1])
cmds = []
for spec in sys.argv[2:]:
    parts, env = spec.split(), dict(os.environ)
    while parts and "=" in parts[0] and not parts[0].startswith("/"):
        k, v = parts.pop(0).split("=", 1)
        env[k] = v
    cmds.append((parts, env, spec))
wall = [[] for _ in cmds]
cpu = [[] for _ in cmds]
faults = [[] for _ in cmds]
devnull = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
for r in range(rounds):
    order = list(range(len(cmds)))
    order = order[r % len(order):] + order[:r % len(order)]
    for i in order:
        argv, env, spec = cmds[i]
        t = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, env, file_actions=devnull)
        _, status, ru = os.wait4(pid, 0)
        if status != 0:
            sys.exit(f"{spec}: failed in round {r}")
        wall[i].append(time.perf_counter() - t)
        cpu[i].append(ru.ru_utime + ru.ru_stime)
        faults[i].append(ru.ru_minflt)
print(f"{rounds} rotating rounds, load average {os.getloadavg()[0]:.2f}")
for i, (_, _, spec) in enumerate(cmds):
    print(f"{statistics.median(wall[i]) * 1000:8.3f} ms wall {statistics.mean(cpu[i]) * 1000:7.3f} ms cpu "
          f"{statistics.mean(faults[i]):5.0f} faults  {spec}")
