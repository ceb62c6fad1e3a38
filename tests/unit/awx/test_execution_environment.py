"""execution-environment.yml and meta/execution-environment.yml give ansible-builder a valid build context.

``ansible-builder create`` needs no container runtime: it runs here against a copy of the
definition with a freshly built collection tarball where ``make ee`` puts it.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from awx_model import REPO

BIN = os.path.dirname(sys.executable)


def _load(*parts: str) -> dict:
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


EE = _load("execution-environment.yml")


def test_the_collection_declares_its_ee_dependencies():
    meta = _load("meta", "execution-environment.yml")
    assert meta["version"] == 1
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert os.path.isfile(os.path.join(REPO, name))


def test_the_pins_fit_the_collection_and_the_ee_stream():
    requires = SpecifierSet(_load("meta", "runtime.yml")["requires_ansible"])
    core = SpecifierSet(EE["dependencies"]["ansible_core"]["package_pip"].split("ansible-core", 1)[1])
    runner = SpecifierSet(EE["dependencies"]["ansible_runner"]["package_pip"].split("ansible-runner", 1)[1])
    assert Version("2.16.0") in core and Version("2.16.0") in requires
    assert not [v for v in ("2.15.13", "2.17.0") if Version(v) in core], "one ansible-core release line"
    assert Version("2.4.0") in runner
    assert EE["version"] == 3
    assert EE["dependencies"]["python"] == "requirements.txt" and EE["dependencies"]["system"] == "bindep.txt"


def test_make_ee_builds_the_tarball_the_definition_copies():
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as handle:
        makefile = handle.read()
    block = makefile[makefile.index("\nee:"):]
    for entry in EE["additional_build_files"]:
        assert entry["src"] in block
    assert re.search(r"ansible-builder create --file execution-environment.yml --context build/ee", block)


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "ansible-builder")), reason="ansible-builder not installed")
def test_ansible_builder_creates_a_build_context(tmp_path):
    src = tmp_path / "src"
    tarballs = src / "build" / "ee-collection"
    tarballs.mkdir(parents=True)
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(os.path.join(REPO, name), src / name)
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(tarballs), REPO], check=True, capture_output=True, text=True, cwd=REPO)
    (built,) = tarballs.glob("storage-replication-*.tar.gz")
    built.rename(tarballs / "storage-replication.tar.gz")
    context = tmp_path / "context"
    done = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "--file", "execution-environment.yml",
                           "--context", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, cwd=src, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No matches" not in done.stdout + done.stderr
    build = context / "_build"
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert EE["images"]["base_image"]["name"] in containerfile
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert filecmp.cmp(build / "requirements.txt", os.path.join(REPO, "requirements.txt"), shallow=False)
    assert filecmp.cmp(build / "bindep.txt", os.path.join(REPO, "bindep.txt"), shallow=False)
    galaxy = yaml.safe_load((build / "requirements.yml").read_text(encoding="utf-8"))
    (collection,) = galaxy["collections"]
    # The galaxy stage runs in /build, where _build/ is copied.
    assert collection["name"] == "/build/" + os.path.relpath(build / "collections" / "storage-replication.tar.gz",
                                                             build)
    with tarfile.open(build / "collections" / "storage-replication.tar.gz") as tarball:
        names = set(tarball.getnames())
    # What the builder's introspection reads from the installed collection.
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt", "MANIFEST.json"} <= names
