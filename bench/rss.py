"""Run a module process and record its peak resident memory.

The benchmark points ``ansible_python_interpreter`` at a wrapper script that runs
this file; every module process Ansible starts then leaves a line
``<module file> <peak RSS in KiB>`` in the log named by the first argument.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys


def main() -> int:
    log, args = sys.argv[1], sys.argv[2:]
    code = subprocess.call([sys.executable] + args)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    name = os.path.basename(args[0]) if args else "stdin"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{name} {peak}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
