"""Stand-in for ansible-test's ``get-pip-<version>.py`` bootstrap script.

ansible-test downloads that script from a host this machine cannot reach; it
first looks in ``~/.ansible/test/cache/get_pip_<version>.py``. ``make setup``
copies this file there (once per pip version ansible-test asks for) next to
pip wheels fetched from PyPI. Run as the bootstrap, it puts the matching pip
wheel on ``sys.path`` and lets that pip install itself, as get-pip does.
"""

from __future__ import annotations

import glob
import os
import sys

WHEELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-wheels")


def main() -> int:
    version = os.path.splitext(os.path.basename(__file__))[0][len("get_pip_"):].replace("_", ".")
    wheels = sorted(glob.glob(os.path.join(WHEELS, f"pip-{version}-*.whl")))
    if not wheels:
        sys.stderr.write(f"no pip {version} wheel in {WHEELS}; run make setup\n")
        return 1
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    return pip_main(["install", "--find-links", WHEELS] + args)


if __name__ == "__main__":
    sys.exit(main())
