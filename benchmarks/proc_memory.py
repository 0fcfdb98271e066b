"""Reading a process's resident memory from /proc (Linux), for the benchmarks that
measure peak memory in child processes: ``ru_maxrss`` survives ``execve``, so a child of
a large process would report its parent's peak."""

from __future__ import annotations


def proc_status_bytes(field: str) -> int | None:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``) in bytes, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024  # "VmHWM:  123 kB"
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
