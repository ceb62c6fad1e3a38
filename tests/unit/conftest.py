"""Fixtures of the unit tests: a lab process per test module, and modules run in-process.

Nothing below the HTTP socket is faked: the modules under test send real
HTTPS / CIM-XML requests to a lab started on random loopback ports.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import typing as t

import pytest
from storage_replication_lab.client import CLAIMS, LabClient, LabProcess

MODULES = "ansible_collections.storage.replication.plugins.modules"


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> t.Iterator[LabClient]:
    """A lab of the test module's own: ``LAB_TOPOLOGY`` in the module, else the default topology."""
    process = LabProcess(getattr(request.module, "LAB_TOPOLOGY", None))
    client = process.start()
    yield client
    process.stop()


@contextlib.contextmanager
def _module_args(args: dict[str, t.Any]) -> t.Iterator[None]:
    try:
        from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel
    except ImportError:  # ansible-core < 2.19
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
        from ansible.module_utils.common.text.converters import to_bytes  # pylint: disable=import-outside-toplevel

        saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access
        return
    with patch_module_args(args):
        yield


def run_module(name: str, args: dict[str, t.Any], check_mode: bool = False, diff: bool = False) -> dict[str, t.Any]:
    """Run ``storage.replication.<name>`` in this process and return its result dict.

    ``result["failed"]`` is true when the module called ``fail_json``.
    """
    module = importlib.import_module(f"{MODULES}.{name}")
    full = dict(args)
    full["_ansible_check_mode"] = check_mode
    full["_ansible_diff"] = diff
    out = io.StringIO()
    with _module_args(full), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit) as exited:
            module.main()
    text = out.getvalue().strip().splitlines()
    result = json.loads(text[-1])
    result.setdefault("failed", exited.value.code not in (0, None))
    result["warnings"] = [_message(w) for w in result.get("warnings", [])]
    return result


def _message(warning: t.Any) -> str:
    """A warning as text: ansible-core 2.19+ returns structured warnings from the module."""
    if isinstance(warning, dict):
        return str((warning.get("event") or {}).get("msg") or warning.get("msg") or warning)
    return str(warning)


@pytest.fixture(name="run_module")
def run_module_fixture() -> t.Callable[..., dict[str, t.Any]]:
    return run_module


def run_dropping(lab: LabClient, array: str, when: str, module: str, args: dict[str, t.Any],
                 name: str) -> dict[str, t.Any]:
    """Run ``module`` while ``array`` drops the connection of one write (``before`` or ``after`` applying it).

    The run must succeed with exactly one write marked ``(no answer)``, a warning that it read ``name``
    again, and a rerun must change nothing. Returns the first run's result.
    """
    lab.faults(array, spare=CLAIMS, drop_count=1, only_mutating=True, drop_when=when)
    try:
        result = run_module(module, args)
    finally:
        lab.clear_faults(array)
    assert not result["failed"], result["msg"]
    assert result["changed"] is True
    records = next((result[k] for k in ("relationships", "pairs", "synchronizations") if k in result), [result])
    assert len([a for r in records for a in r["actions"] if a.endswith("(no answer)")]) == 1
    assert any("got no answer" in w and f"Read {name}" in w for w in result["warnings"]), result["warnings"]
    assert run_module(module, args)["changed"] is False
    return result


@pytest.fixture(name="dropping")
def dropping_fixture(lab: LabClient) -> t.Callable[..., dict[str, t.Any]]:
    def run(array: str, when: str, module: str, args: dict[str, t.Any], name: str) -> dict[str, t.Any]:
        return run_dropping(lab, array, when, module, args, name)
    return run
