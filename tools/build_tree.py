"""Mirror the collection into ``<dest>/ansible_collections/storage/replication``.

ansible-test refuses a symlinked collection, so the tests run from a copy made
of the files git knows about (tracked, plus untracked files that are not
ignored). Files that disappeared from the working tree disappear from the copy.
The lab (``lab/``) is a Python project of its own, not part of the collection:
it is left out, as ``galaxy.yml`` leaves it out of the tarball.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys

# top-level directories of the checkout that are not part of the collection
NOT_COLLECTION = ("lab",)


def main(dest_root: str) -> int:
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True,
                         text=True).stdout.strip()
    listed = subprocess.run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"], cwd=top, check=True,
                            capture_output=True).stdout.decode().split("\0")
    files = sorted({f for f in listed if f and os.path.isfile(os.path.join(top, f))
                    and f.split("/", 1)[0] not in NOT_COLLECTION})
    dest = os.path.join(dest_root, "ansible_collections", "storage", "replication")
    os.makedirs(dest, exist_ok=True)
    wanted = set(files)
    for rel in files:
        src, dst = os.path.join(top, rel), os.path.join(dest, rel)
        if os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
    # The copy is a git repository of its own: ansible-test walks up from where it
    # runs to the first git work tree and lists the files git knows there.
    if not os.path.isdir(os.path.join(dest, ".git")):
        subprocess.run(["git", "init", "-q", dest], check=True)
    keep = (os.path.join("tests", "output") + os.sep, ".git" + os.sep)
    for root, dirs, names in os.walk(dest, topdown=False):
        if os.path.relpath(root, dest).split(os.sep, maxsplit=1)[0] == ".git":
            continue
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), dest)
            if rel not in wanted and not rel.startswith(keep):
                os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            if name != ".git" and not os.listdir(path):
                os.rmdir(path)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
