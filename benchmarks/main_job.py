"""Wall time and peak memory of the main job (`svgarena run` with no options).

Peak memory is sampled every 0.1 s over the whole process tree (harness, render workers and the
browser), as the sum of resident set sizes; the largest single process is reported too.

    .venv/bin/python benchmarks/main_job.py [extra svgarena run options...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _tree_rss(root: int) -> tuple[int, int, str]:
    """(sum, max, name of the max) resident bytes over ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    names: dict[int, str] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                head, tail = fh.read().rsplit(")", 1)
            fields = tail.split()
            names[int(entry)] = head.partition("(")[2]
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * page
    total, biggest, name, stack = 0, 0, "", [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        if rss.get(pid, 0) > biggest:
            biggest, name = rss[pid], names.get(pid, "?")
        stack.extend(children.get(pid, []))
    return total, biggest, name


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="svgarena-bench-"))
    exe = shutil.which("svgarena", path=str(Path(sys.executable).parent)) or "svgarena"
    cmd = [exe, "run", "--out", str(out), "--run-id", "bench", *sys.argv[1:]]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_sum = peak_one = 0
    peak_name = ""
    while proc.poll() is None:
        s, m, name = _tree_rss(proc.pid)
        peak_sum = max(peak_sum, s)
        if m > peak_one:
            peak_one, peak_name = m, name
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"svgarena run failed with exit code {proc.returncode}")
    import sqlite3

    con = sqlite3.connect(out / "bench" / "run.sqlite")
    n = con.execute("SELECT count(*) FROM trajectories WHERE status='done'").fetchone()[0]
    con.close()
    print(f"main job: {n} trajectories in {wall:.1f} s wall ({n / wall:.1f}/s) on {os.cpu_count()} cores")
    print(f"peak memory: {peak_sum / 2**20:.0f} MiB for the whole process tree, {peak_one / 2**20:.0f} MiB largest process "
          f"({peak_name})")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
