"""Longest silent stretch of a command: the largest gap between two writes to its stdout
or stderr (progress-bar redraws count as output), its start and its exit counting as
writes, overall and per stage of the outermost stage plan, and the same not counting
heartbeat lines ("still in …": they only say that nothing else was said).

    python benchmarks/longest_silence.py [--log FILE] [--json FILE [--label TEXT]] -- wimpsift run -o out

Prints the command's wall time, the longest gaps and where they ended (the next line
written); ``--log`` keeps every line with its time in seconds since the start. ``--json``
writes the same as a record (UTC date, ``--label`` saying what ran where, exit code, wall
time, longest gaps overall and per stage; ``start`` is what came before the first stage,
e.g. an installation), which ``scripts/main_job_results.py --silence`` renders into the
README's timing sentence.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import selectors
import subprocess
import sys
import time

STAGE = re.compile(r"^\[(\w+)\s+[^]]*\] stage \d+/\d+ (.+?): started")
HEARTBEAT = re.compile(r"\] +still in ")


class Gaps:
    """Longest gap between events, and the line that ended it."""

    def __init__(self, start: float):
        self.last, self.longest, self.ended_by = start, 0.0, ""

    def see(self, now: float, line: str) -> None:
        if now - self.last > self.longest:
            self.longest, self.ended_by = now - self.last, line
        self.last = now


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: longest_silence.py [--log FILE] [--json FILE [--label TEXT]] -- COMMAND [ARGS...]",
              file=sys.stderr)
        return 2
    options, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    record_path = options[options.index("--json") + 1] if "--json" in options else None
    label = options[options.index("--label") + 1] if "--label" in options else None
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    log = open(options[options.index("--log") + 1], "w") if "--log" in options else None  # noqa: SIM115
    if command[0] == "wimpsift":
        command = [sys.executable, "-m", "wimpsift", *command[1:]]
    started = time.monotonic()
    every, real = Gaps(started), Gaps(started)
    per_stage: dict[str, tuple[Gaps, Gaps, float]] = {}  # stage: (all, without heartbeats, started)
    outer, stage = None, "start"
    per_stage[stage] = (Gaps(started), Gaps(started), started)
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
            lines = [s for s in chunk.decode(errors="replace").replace("\r", "\n").splitlines() if s.strip()]
            if not lines:
                continue
            # the silence that these lines end belongs to the stage it fell in, also when
            # they start the next stage
            every.see(now, lines[0])
            per_stage[stage][0].see(now, lines[0])
            spoken = [s for s in lines if not HEARTBEAT.search(s)]
            if spoken:
                real.see(now, spoken[0])
                per_stage[stage][1].see(now, spoken[0])
            for line in lines:
                match = STAGE.match(line)
                if match and outer in (None, match.group(1)):
                    outer, stage = match.group(1), match.group(2)
                    per_stage[stage] = (Gaps(now), Gaps(now), now)
                if log:
                    log.write(f"{now - started:9.2f} {line}\n")
    rc = proc.wait()
    end = time.monotonic()
    # the silence before the command's exit is a silence too (a job that says nothing
    # through its last minutes): it ends with the exit
    for gaps in (every, real, *per_stage[stage][:2]):
        gaps.see(end, f"(exit code {rc})")
    if log:
        log.close()
    print(f"exit code {rc}, wall time {end - started:.0f} s, longest silent stretch {every.longest:.1f} s, "
          f"ended by: {every.ended_by!r}")
    print(f"not counting heartbeats: {real.longest:.1f} s, ended by: {real.ended_by!r}")
    stages = list(per_stage)
    record = {"date_utc": date, "label": label, "command": command, "exit_code": rc,
              "wall_s": end - started, "longest_silence_s": every.longest,
              "longest_silence_without_heartbeats_s": real.longest, "stages": {}}
    for i, name in enumerate(stages):
        all_gaps, spoken_gaps, t0 = per_stage[name]
        t1 = per_stage[stages[i + 1]][2] if i + 1 < len(stages) else end
        print(f"  {name}: {t1 - t0:.0f} s, longest silence {all_gaps.longest:.1f} s, "
              f"not counting heartbeats {spoken_gaps.longest:.1f} s (ended by {spoken_gaps.ended_by!r})")
        record["stages"][name] = {"wall_s": t1 - t0, "longest_silence_s": all_gaps.longest,
                                  "longest_silence_without_heartbeats_s": spoken_gaps.longest}
    if record_path:
        tmp = f"{record_path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")
        os.replace(tmp, record_path)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
