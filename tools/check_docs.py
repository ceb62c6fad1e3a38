"""Load the DOCUMENTATION, EXAMPLES and RETURN blocks of every module as YAML (a quick syntax check)."""

from __future__ import annotations

import ast
import glob
import sys

import yaml


def main() -> int:
    bad = 0
    for path in sorted(glob.glob("plugins/modules/*.py")):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                try:
                    yaml.safe_load(node.value.value)
                except yaml.YAMLError as exc:
                    bad += 1
                    print(f"{path}: {node.targets[0].id}: {exc}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
