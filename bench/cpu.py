"""CPU time of the stack's processes, from /proc: what a request costs the web process and
the workers (the budget DESIGN-NOTES.md item 9 talks about). MariaDB and RabbitMQ are left
out: they are shared with whatever else runs on the machine."""
import os

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds used so far)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command: state, ppid, ..., utime (14th field overall), stime (15th).
        found[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S)
    return found


def tree_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds of each group of process trees (a root pid and all its descendants).

    Parameters:
      roots: group name (say "worker") -> the pids at the top of its trees.
    """
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    totals = {}
    for name, pids in roots.items():
        seen, todo, total = set(), list(pids), 0.0
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in procs:
                continue
            seen.add(pid)
            total += procs[pid][1]
            todo += children.get(pid, [])
        totals[name] = total
    return totals
