"""Longest silent stretch of a command: the largest gap between two writes to its stdout
or stderr (progress-bar redraws count as output).

    python benchmarks/longest_silence.py -- wimpsift run --config my.toml -o out

Prints the command's wall time, the longest gap and where it ended (the next line written).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: longest_silence.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1:]
    if command[0] == "wimpsift":
        command = [sys.executable, "-m", "wimpsift", *command[1:]]
    started = last = time.monotonic()
    longest, ended_by = 0.0, ""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    selector = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        selector.register(stream, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in selector.select():
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            now = time.monotonic()
            if now - last > longest:
                longest = now - last
                ended_by = chunk.decode(errors="replace").replace("\r", "\n").strip().splitlines()[:1]
            last = now
    rc = proc.wait()
    print(f"exit code {rc}, wall time {time.monotonic() - started:.0f} s, longest silent stretch "
          f"{longest:.1f} s, ended by: {ended_by[0] if ended_by else ''!r}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
