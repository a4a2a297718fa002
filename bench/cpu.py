"""CPU time of the processes a transfer passes through, from /proc: the web process, the
workers, the sweeper, honcho (which relays every log line), and the shared services
MariaDB, RabbitMQ and Redis, found by process name. This is the budget DESIGN-NOTES.md
item 9 talks about. The services also serve whatever else runs on the machine during a
phase, so their share is an upper bound on a shared machine."""
import os

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
# The shared services by process name (the `comm` of /proc/<pid>/stat): MariaDB's server is
# `mariadbd` since 10.5 (`mysqld` before), RabbitMQ runs in the Erlang VM `beam.smp`.
SERVICES = {"MariaDB": ("mariadbd", "mysqld"), "RabbitMQ": ("beam.smp",),
            "Redis": ("redis-server",)}


def _processes() -> dict[int, tuple[int, float, str]]:
    """Every process: pid -> (parent pid, CPU seconds used so far, name)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = tail.split()
        # After the name: state, ppid, ..., utime (14th field overall), stime (15th).
        found[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S,
                             head.split("(", 1)[1])
    return found


def seconds(trees: dict[str, list[int]], own: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far, by group.

    Parameters:
      trees: group name (say "worker") -> the pids at the top of its process trees (each
        counted with all its descendants).
      own: group name -> pids counted alone (say honcho, without the processes it runs).

    Returns:
      Those groups, and one per shared service (SERVICES), all processes of that name.
    """
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for name, pids in trees.items():
        seen, todo, total = set(), list(pids), 0.0
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in procs:
                continue
            seen.add(pid)
            total += procs[pid][1]
            todo += children.get(pid, [])
        totals[name] = total
    for name, pids in own.items():
        totals[name] = sum(procs[pid][1] for pid in pids if pid in procs)
    for name, names in SERVICES.items():
        totals[name] = sum(cpu for _, cpu, comm in procs.values() if comm in names)
    return totals
