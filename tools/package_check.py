"""Build the collection tarball and prove it installs and documents itself.

1. ``ansible-galaxy collection build`` into <out>;
2. the tarball holds none of the local state (.venv, .lab, .ansible, build trees, caches, results), nor the lab
   (``lab/``, a Python project of its own);
3. galaxy-importer accepts it;
4. installed into an empty collections path, ``ansible-doc`` renders every plugin of it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

FORBIDDEN = re.compile(r"^(\.venv|\.lab|lab|\.ansible|\.ci|\.cache|\.pytest_cache|build|collections|tests/output)(/|$)"
                       r"|(^|/)__pycache__(/|$)|\.pyc$|^bench/results/(?!\.gitkeep$)|\.tar\.gz$")


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")
    return done


def main(out: str) -> int:
    bindir = os.path.dirname(sys.executable)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    run([os.path.join(bindir, "ansible-galaxy"), "collection", "build", "--output-path", out, "--force"])
    tarball = glob.glob(os.path.join(out, "storage-replication-*.tar.gz"))[0]
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    leaked = [n for n in names if FORBIDDEN.search(n)]
    if leaked:
        raise SystemExit(f"the tarball holds local state or the lab: {leaked[:20]}")
    print(f"built {os.path.basename(tarball)}: {len(names)} entries, {os.path.getsize(tarball) // 1024} KiB, no local state")

    imported = run([sys.executable, "-m", "galaxy_importer.main", tarball], cwd=out)
    problems = [line for line in (imported.stdout + imported.stderr).splitlines()
                if re.search(r"\b(ERROR|WARNING)\b", line) and "Using locale" not in line]
    if problems or "Importer processing completed successfully" not in imported.stdout + imported.stderr:
        raise SystemExit("galaxy-importer did not accept the tarball cleanly:\n" + "\n".join(problems))
    print("galaxy-importer: completed without warnings")

    with tempfile.TemporaryDirectory(prefix="collections-") as root:
        env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_CONFIG"}
        env["ANSIBLE_COLLECTIONS_PATH"] = root
        run([os.path.join(bindir, "ansible-galaxy"), "collection", "install", "--force", tarball, "-p", root],
            env=env, cwd=root)
        doc = os.path.join(bindir, "ansible-doc")
        counted = 0
        for kind in ("module", "inventory", "filter"):
            listed = json.loads(run([doc, "-t", kind, "--list", "--json", "storage.replication"], env=env,
                                    cwd=root).stdout)
            for name in sorted(listed):
                text = run([doc, "-t", kind, name], env=env, cwd=root).stdout
                if "EXAMPLES" not in text and kind == "module":
                    raise SystemExit(f"ansible-doc {name}: no examples rendered")
                counted += 1
            print(f"ansible-doc -t {kind}: {len(listed)} plugins render from the installed tarball")
        if not counted:
            raise SystemExit("no plugin found in the installed collection")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/dist"))
