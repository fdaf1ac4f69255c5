"""Benchmark the local quick start: `make deploy`, `make smoke`, `make emulator-stop` from a clean state.

    inference-bench-deploy [--cold]   (make bench-deploy)

Stops any running emulator first (clean state); ``--cold`` also drops the cached Lambda runtime
dependencies so pip downloads them again. Prints the wall time of each step and the total, checks that
no emulator process is left afterwards, and exits 1 if a step failed, a process was left behind, or
deploy + smoke took longer than the 2-minute target.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from inference_platform_ops.emulator import local_aws
from inference_platform_ops.paths import BUILD, ROOT, TOOLS

TARGET_SECONDS = 120.0


def emulator_processes() -> list[int]:
    """Pids of every `local_aws.py serve` process on this machine (read-only scan of /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if local_aws.SERVE_MODULE.encode() in args and b"serve" in args:
            pids.append(int(cmdline.parent.name))
    return pids


def timed(make: str, target: str) -> tuple[float, int, str]:
    started = time.monotonic()
    proc = subprocess.run([make, target], cwd=ROOT, capture_output=True, text=True, check=False)
    return time.monotonic() - started, proc.returncode, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also drop the cached Lambda dependencies")
    args = parser.parse_args(argv)
    make = shutil.which("make")
    if make is None:
        print("bench: `make` is not on PATH")
        return 2
    local_aws.stop()
    shutil.rmtree(BUILD, ignore_errors=True)
    if args.cold:
        for cached in (TOOLS / "cache").glob("lambda-deps-*"):
            shutil.rmtree(cached)
    results = {}
    for target in ("deploy", "smoke", "emulator-stop"):
        seconds, code, output = timed(make, target)
        results[target] = seconds
        print(f"make {target:<14} {seconds:6.1f} s  exit {code}")
        if code != 0:
            print(output[-3000:])
            local_aws.stop()
            return 1
    left = emulator_processes()
    total = results["deploy"] + results["smoke"]
    print(f"deploy + smoke     {total:6.1f} s  (target < {TARGET_SECONDS:.0f} s, "
          f"{'cold' if args.cold else 'warm'} Lambda dependency cache)")
    print(f"emulator processes left after make emulator-stop: {len(left)}")
    return 0 if not left and total < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
