"""The report: which machine, which settings, and its tables (one row per transfer
scenario; one row per measure, with its target)."""
import os
import platform
from dataclasses import dataclass

import pymysql

SKIPPED = "skipped (--quick)"


@dataclass
class Row:
    """One measure: its figure, the target it is held to (if any), and whether it met it."""

    measure: str
    figure: str
    target: str = "—"
    met: bool | None = None

    def cells(self) -> list[str]:
        met = "—" if self.met is None else ("yes" if self.met else "**no**")
        return [self.measure, self.figure, self.target, met]


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def pcts(latency_ms: dict[int, float], *, points: tuple[int, ...] = (50, 90, 99)) -> str:
    """`p50/p90/p99 a/b/c ms` (or the `points` asked for)."""
    return ("/".join(f"p{p}" for p in points) + " "
            + "/".join(ms(latency_ms[p]) for p in points) + " ms")


@dataclass
class Table:
    """A markdown table under a heading."""

    heading: str
    header: list[str]
    rows: list[list[str]]

    def lines(self) -> list[str]:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |"
        return [f"## {self.heading}", "", line(self.header),
                "|" + "---|" * len(self.header)] + [line(row) for row in self.rows] + [""]


def measures(rows: list[Row]) -> Table:
    """The table of measures: figure, target, met."""
    return Table("Measures and targets", ["measure", "figure", "target", "met?"],
                 [row.cells() for row in rows])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine(conn: pymysql.connections.Connection) -> str:
    """One line about the machine and the database server's durability settings."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@innodb_flush_log_at_trx_commit, "
                    "@@innodb_buffer_pool_size")
        version, flush, pool = cur.fetchone()
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}; load average at start {load} "
            f"(the machine is shared: other processes were not stopped); MariaDB {version} "
            f"(innodb_flush_log_at_trx_commit={flush}, buffer pool {int(pool) // 2**20} MiB), "
            "all services on the same machine as the load generator.")


def render(*, title: str, machine_line: str, settings_line: str, tables: list[Table],
           notes: list[str]) -> str:
    """The markdown report: header, tables, notes."""
    lines = [f"# {title}", "", f"**Machine:** {machine_line}", "",
             f"**Settings:** {settings_line}", ""]
    for table in tables:
        lines += table.lines()
    if notes:
        lines += ["**Notes:**", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
