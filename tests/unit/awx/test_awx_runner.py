"""The DR job templates run as AWX runs them, and no password reaches the job events or stdout.

For every job, a fresh private data directory is laid out the way AWX lays one out for
ansible-runner: ``inventory/hosts`` (the executable AWX writes, printing the inventory as JSON:
the lab's arrays as hosts with ``replication_endpoint`` and ``replication_vendor``, no password),
``env/extravars`` (the job template's extra vars from extensions/awx/workflow.yml, mostly with
``replication_sets``), ``env/envvars`` (what the vendor's credential type in
extensions/awx/credential_types/ injects, rendered from the lab's account, CA file included),
``env/settings`` and ``project/playbooks/``. Then ``ansible_runner.run`` runs setup, status, the DR
rehearsal (DR test start, DR test stop with its survey answered), planned failover and failback, and the
test reads the arrays to see that each role did its job.
The status job finds ``replication_sets`` in the inventory's variables instead (the group
``all``, which the plays' implicit localhost sees), the way extensions/awx/README.md recommends.

The CA reaches one array through the inventory (``replication_ca_path``, a path baked into the
execution environment) and the other through the credential's file injector; TLS is verified on
both, so a job only succeeds when both routes work. The ShadowImage and SMI-S cases have one array
(local pairs), which gets the CA both ways.

A vendor is added by appending a ``VendorCase`` to ``CASES``.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import secrets
import sys
import typing as t

import pytest
import yaml

from storage_replication_lab.client import LabClient, LabProcess

ansible_runner = pytest.importorskip("ansible_runner")

from awx_model import REPO, inject_credential, inventory_script, load_credential_type, private_data_dir  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.dirname(sys.executable)
HOST_EXTRAS = {"namespace": "replication_namespace", "storage_device_id": "replication_storage_device_id"}
# Faster polling than a site would use, so the lab's short jobs are seen at once.
SPEEDUPS = {"backend_replication_poll_interval": 0.1, "failover_poll_interval": 0.1, "failback_poll_interval": 0.1,
            "dr_test_poll_interval": 0.1}
STEPS = ("Storage replication: setup", "Storage replication: status", "Storage replication: planned failover",
         "Storage replication: failback")
REHEARSAL = ("Storage replication: DR test start", "Storage replication: DR test stop")


@dataclasses.dataclass
class VendorCase:
    """One vendor's part of the test: its lab arrays, replication set and checks read from the arrays."""

    vendor: str
    arrays: dict[str, dict[str, t.Any]]
    links: list[dict[str, t.Any]]
    replication_set: dict[str, t.Any]
    # volumes (array, lab volume key) hosts write to at DR after the failover, and where they must come home
    dr_writes: list[tuple[tuple[str, str], tuple[str, str]]]
    check_protected: t.Callable[[LabClient], None]
    check_failed_over: t.Callable[[LabClient], None]
    check_home: t.Callable[[LabClient], None]
    # (item, state) the status job must show after the setup
    status_rows: list[tuple[str, str]]
    credential_extra: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    # a failback the array cannot prove safe: the first launch must refuse naming this text, and the job is
    # launched again with failback_allow_data_loss: true (the operator's answer to the survey)
    failback_refusal: str | None = None
    # the DR test's copies cannot be proven unwritten: DR test stop refuses with the survey's default answer
    dr_test_stop_refused: bool = False

    @property
    def source(self) -> str:
        return str(self.replication_set["source"])


def _ontap_relationships(lab: LabClient, array: str, svm: str) -> list[dict[str, t.Any]]:
    reply = lab.session(array).get(lab.url(array, "/api/snapmirror/relationships"), timeout=30,
                                   params={"fields": "state,source.path,destination.path", "destination.svm.name": svm})
    reply.raise_for_status()
    return reply.json()["records"]


def _ontap_states(lab: LabClient) -> dict[str, str]:
    return {r["destination"]["path"]: r["state"] for r in _ontap_relationships(lab, "ontap-b", "svm_b")
            if r["source"]["path"].startswith("svm_a:")}


ONTAP_VOLUMES = ["vol1", "vol2", "vol3"]
ONTAP_DESTINATIONS = [f"svm_b:{v}_dr" for v in ONTAP_VOLUMES]


def _ontap_protected(lab: LabClient) -> None:
    assert _ontap_states(lab) == dict.fromkeys(ONTAP_DESTINATIONS, "snapmirrored")


def _ontap_failed_over(lab: LabClient) -> None:
    assert _ontap_states(lab) == dict.fromkeys(ONTAP_DESTINATIONS, "broken_off")
    for path in ONTAP_DESTINATIONS:
        assert lab.volume("ontap-b", path)["host_access"] == "rw", path


def _ontap_home(lab: LabClient) -> None:
    assert _ontap_states(lab) == dict.fromkeys(ONTAP_DESTINATIONS, "snapmirrored")
    assert _ontap_relationships(lab, "ontap-a", "svm_a") == [], "a reverse relationship was left on the primary"
    for volume in ONTAP_VOLUMES:
        assert lab.volume("ontap-a", f"svm_a:{volume}")["host_access"] == "rw", volume


ONTAP = VendorCase(
    vendor="ontap",
    arrays={
        "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "10TiB"}],
                    "svms": [{"name": "svm_a", "volumes": [{"name": "vol{n}", "count": len(ONTAP_VOLUMES),
                                                            "size": "256MiB", "data_blocks": 16,
                                                            "aggregate": "aggr1_a", "nas_path": "/vol{n}"}]}],
                    "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "10TiB"}],
                    "svms": [{"name": "svm_b"}]},
    },
    links=[{"between": ["ontap-a", "ontap-b"], "bandwidth": "4GiB", "per_transfer_rate": "512MiB"}],
    replication_set={"name": "awx-ontap", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b",
                     "source_container": "svm_a", "target_container": "svm_b", "volumes": ONTAP_VOLUMES,
                     "target_name_suffix": "_dr", "fence_order": ["vol1"], "options": {"policy": "Asynchronous"}},
    dr_writes=[(("ontap-b", "svm_b:vol1_dr"), ("ontap-a", "svm_a:vol1")),
               (("ontap-b", "svm_b:vol3_dr"), ("ontap-a", "svm_a:vol3"))],
    check_protected=_ontap_protected,
    check_failed_over=_ontap_failed_over,
    check_home=_ontap_home,
    status_rows=[(path, "snapmirrored") for path in ONTAP_DESTINATIONS],
)


def _local_checks(array: str, pairs: list[tuple[str, str]]) -> tuple[t.Callable[[LabClient], None], ...]:
    """Checks for a set of local pairs (ShadowImage, SMI-S local mirrors), from host access and digests."""

    def protected(lab: LabClient) -> None:
        for source, target in pairs:
            assert lab.volume(array, target)["host_access"] != "rw", f"{target} is writable while protected"
            assert lab.digest(array, target) == lab.digest(array, source), f"{target} does not hold {source}"

    def failed_over(lab: LabClient) -> None:
        for source, target in pairs:
            assert lab.volume(array, target)["host_access"] == "rw", f"{target} is not writable after failover"
            assert lab.digest(array, target) == lab.digest(array, source), f"{target} lost data of {source}"

    def home(lab: LabClient) -> None:
        for source, target in pairs:
            assert lab.volume(array, source)["host_access"] == "rw", f"{source} is not writable at home"
            assert lab.volume(array, target)["host_access"] != "rw", f"{target} is still writable"

    return protected, failed_over, home


VSP_PAIRS = [("256", "512"), ("257", "513")]
VSP_CHECKS = _local_checks("vsp-a", VSP_PAIRS)
VSP = VendorCase(
    vendor="vsp",
    arrays={"vsp-a": {"vendor": "vsp", "model": "VSP G900", "serial": 410001, "settings": {"job_seconds": 0.02},
                      "pools": [{"id": 0, "name": "dp_pool0", "size": "1TiB"}],
                      "ldevs": [{"id_base": 256, "count": 2, "size": "256MiB", "pool": 0, "data_blocks": 16},
                                {"id_base": 512, "count": 2, "size": "256MiB", "pool": 0}]}},
    links=[],
    replication_set={"name": "awx-vsp", "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
                     "volumes": [{"name": p, "target_name": s} for p, s in VSP_PAIRS],
                     "options": {"dr_test_pool_id": 0, "dr_test_svol_pool_id": 0}},
    dr_writes=[(("vsp-a", "512"), ("vsp-a", "256"))],
    check_protected=VSP_CHECKS[0],
    check_failed_over=VSP_CHECKS[1],
    check_home=VSP_CHECKS[2],
    status_rows=[(f"awx-vsp/p{p} on vsp-a", "paired") for p, _s in VSP_PAIRS],
    # ShadowImage reports how much differs between P-VOL and S-VOL, not which side was written
    failback_refusal="written to the P-VOL (LDEV 256)",
)

SMIS_PAIRS = [("201", "251"), ("202", "252")]
SMIS_CHECKS = _local_checks("smis-b", SMIS_PAIRS)
SMIS = VendorCase(
    vendor="smis",
    arrays={"smis-b": {"vendor": "smis", "profile": "generic",
                       "volumes": [{"name": "vol{n}", "count": 2, "id_base": 201, "size": "256MiB", "data_blocks": 16},
                                   {"name": "mirror{n}", "count": 2, "id_base": 251, "size": "256MiB"}]}},
    links=[],
    replication_set={"name": "awx-smis", "vendor": "smis", "source": "smis-b", "target": "smis-b",
                     "volumes": [{"name": p, "target_name": s} for p, s in SMIS_PAIRS],
                     "options": {"sync_type": "mirror", "mode": "async"}},
    dr_writes=[(("smis-b", "251"), ("smis-b", "201"))],
    check_protected=SMIS_CHECKS[0],
    check_failed_over=SMIS_CHECKS[1],
    check_home=SMIS_CHECKS[2],
    status_rows=[(f"{p} -> {s} on smis-b", "synchronized") for p, s in SMIS_PAIRS],
    # no SMI-S provider says whether a replica was written
    dr_test_stop_refused=True,
)

CASES = [ONTAP, VSP, SMIS]


def _job_templates() -> dict[str, dict[str, t.Any]]:
    with open(os.path.join(REPO, "extensions", "awx", "workflow.yml"), encoding="utf-8") as handle:
        return {jt["name"]: jt for jt in yaml.safe_load(handle)["job_templates"]}


class AwxJobs:
    """Launches job templates against one lab as AWX would, one private data directory per job."""

    def __init__(self, case: VendorCase, lab: LabClient, workdir: str, password: str) -> None:
        self.case = case
        self.lab = lab
        self.workdir = workdir
        self.password = password
        self.templates = _job_templates()
        self.jobs: list[t.Any] = []

    def inventory(self, all_vars: dict[str, t.Any]) -> str:
        hosts = {}
        for name in self.case.arrays:
            info = self.lab.array(name)
            hostvars = {"replication_vendor": info["vendor"], "replication_endpoint": info["url"]}
            if name == self.case.source:
                hostvars["replication_ca_path"] = info["ca_file"]
            hostvars.update({var: info[key] for key, var in HOST_EXTRAS.items() if key in info})
            hosts[name] = hostvars
        return inventory_script({self.case.vendor: hosts}, all_vars)

    def credential_inputs(self) -> dict[str, t.Any]:
        info = self.lab.array(self.case.source)
        with open(info["ca_file"], encoding="utf-8") as handle:
            ca_cert = handle.read()
        return dict({"username": info["username"], "password": info["password"], "ca_cert": ca_cert},
                    **self.case.credential_extra)

    def launch(self, template_name: str, sets_in_inventory: bool = False, answers: dict[str, t.Any] | None = None,
               succeeds: bool = True) -> str:
        """Run a job of the template; ``replication_sets`` go to the extra vars or the inventory's variables,
        ``answers`` (a survey's) over the template's extra vars. Checks it succeeded, or failed (``succeeds``)."""
        template = self.templates[template_name]
        path = os.path.join(self.workdir, f"job{len(self.jobs) + 1}")
        os.makedirs(path)
        env = inject_credential(load_credential_type(self.case.vendor), self.credential_inputs(), path)
        env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".venv", "collections")
        env["ANSIBLE_NOCOLOR"] = "1"
        sets = {"replication_sets": [self.case.replication_set]}
        extravars = dict(template.get("extra_vars") or {}, **SPEEDUPS, **({} if sets_in_inventory else sets),
                         **(answers or {}))
        project = {os.path.relpath(p, REPO): p for p in glob.glob(os.path.join(REPO, "playbooks", "**", "*"),
                                                                  recursive=True) if os.path.isfile(p)}
        private_data_dir(path, self.inventory(sets if sets_in_inventory else {}), extravars, env, {"job_timeout": 240},
                         project)
        # Only the test harness: PATH leads to the venv's ansible-playbook (AWX runs the one of the EE).
        runner = ansible_runner.run(private_data_dir=path, playbook=template["playbook"], quiet=True, ident="1",
                                    envvars={"PATH": os.pathsep.join([VENV_BIN, os.environ.get("PATH", "")])})
        self.jobs.append(runner)
        stdout = runner.stdout.read()
        assert (runner.status == "successful" and runner.rc == 0) is succeeds, \
            f"{template_name}: {runner.status}\n{stdout[-4000:]}"
        self.assert_no_secret(runner, stdout, template_name)
        return stdout

    def assert_no_secret(self, runner: t.Any, stdout: str, template_name: str) -> None:
        secret = self.password
        events = list(runner.events)
        assert events, f"{template_name}: no job events"
        leaked = [e.get("event") for e in events if secret in json.dumps(e)]
        assert not leaked, f"{template_name}: the password is in job events {leaked}"
        assert secret not in stdout, f"{template_name}: the password is in stdout"
        artifacts = runner.config.artifact_dir
        for root, _dirs, files in os.walk(artifacts):
            for name in files:
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as handle:
                    found = secret in handle.read()
                relative = os.path.relpath(path, artifacts)
                if relative == "command":
                    # The caveat extensions/awx/README.md documents: ansible-runner records the job's full
                    # environment, injected secrets included, in artifacts/<ident>/command.
                    assert found, "artifacts/command no longer holds the environment: update extensions/awx/README.md"
                else:
                    assert not found, f"{template_name}: the password is in artifacts/{relative}"


def rehearse(jobs: AwxJobs, case: VendorCase, lab: LabClient) -> None:
    """DR test start makes one copy (a new volume on the DR array) per item; DR test stop, answered as its survey
    answers (a string), removes them all and nothing else."""
    target = str(case.replication_set["target"])
    before = set(lab.volumes(target))
    jobs.launch(REHEARSAL[0])
    made = set(lab.volumes(target)) - before
    assert len(made) == len(case.status_rows), f"copies made: {sorted(made)}"
    if case.dr_test_stop_refused:
        refused = jobs.launch(REHEARSAL[1], answers={"dr_test_allow_data_loss": "false"}, succeeds=False)
        assert "allow_data_loss" in refused and set(lab.volumes(target)) - before == made, refused[-3000:]
    jobs.launch(REHEARSAL[1], answers={"dr_test_allow_data_loss": "true" if case.dr_test_stop_refused else "false"})
    assert set(lab.volumes(target)) == before, "DR test stop left a copy"


# ansible-runner starts ansible-playbook through pexpect (as in AWX), whose forkpty() Python flags in
# pytest-xdist's threaded workers; the child execs at once.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of forkpty:DeprecationWarning")
@pytest.mark.parametrize("case", CASES, ids=[c.vendor for c in CASES])
def test_dr_job_templates_through_ansible_runner_keep_passwords_out_of_events(case: VendorCase, tmp_path) -> None:
    password = "awx-" + secrets.token_urlsafe(18)
    arrays = {name: dict(spec, username="dr-operator", password=password) for name, spec in case.arrays.items()}
    topology = {"lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "512MiB"},
                "arrays": arrays, "links": case.links}
    os.makedirs(tmp_path / "lab")
    process = LabProcess(topology, state_dir=str(tmp_path / "lab"))
    lab = process.start()
    try:
        jobs = AwxJobs(case, lab, str(tmp_path / "jobs"), password)
        jobs.launch(STEPS[0])
        case.check_protected(lab)
        # The status job reads replication_sets from the inventory's variables, as extensions/awx/README.md
        # recommends; the others from the extra vars.
        status = jobs.launch(STEPS[1], sets_in_inventory=True)
        for item, state in case.status_rows:
            assert [line for line in status.splitlines() if item in line and state in line], f"{item} not {state}"
        rehearse(jobs, case, lab)
        jobs.launch(STEPS[2])
        case.check_failed_over(lab)
        written = {}
        for (dr_array, dr_key), home in case.dr_writes:
            written[home] = lab.write(dr_array, dr_key, blocks=4)["digest"]
        if case.failback_refusal is not None:
            refused = jobs.launch(STEPS[3], succeeds=False)
            assert case.failback_refusal in refused and "allow_data_loss" in refused, refused[-3000:]
            jobs.launch(STEPS[3], answers={"failback_allow_data_loss": True})
        else:
            jobs.launch(STEPS[3])
        case.check_home(lab)
        for (array, key), digest in written.items():
            assert lab.digest(array, key) == digest, f"the writes made at DR did not come home to {array}:{key}"
    finally:
        process.stop()
