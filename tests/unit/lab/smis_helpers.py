"""What the SMI-S lab tests share: the topology, operation codes and pywbem helpers.

test_smis_sim.py and test_smis_sim_replication.py each start a lab of their own on ``TOPOLOGY`` (their
``LAB_TOPOLOGY``), test_smis_3par.py on its smis-a alone.
"""

from __future__ import annotations

import time
import typing as t

import pywbem

U16 = pywbem.Uint16
TOPOLOGY = {
    "lab": {"block_size": "64KiB", "local_bandwidth": "4GiB", "tick_seconds": 0.02},
    "arrays": {
        "smis-a": {"vendor": "smis", "profile": "3par",
                   "volumes": [{"name": "vol{n}", "count": 8, "id_base": 101, "size": "4MiB", "data_blocks": 16}]},
        "smis-b": {"vendor": "smis", "profile": "generic",
                   "volumes": [{"name": "vol{n}", "count": 8, "id_base": 201, "size": "4MiB", "data_blocks": 16}]},
    },
}
TERMINAL = (7, 8, 9, 10)
MIRROR, SNAPSHOT, CLONE = 6, 7, 8
ABORT, DETACH, DISSOLVE, FAILOVER, FAILBACK, FRACTURE = 2, 8, 9, 10, 11, 12
RESYNC, RESTORE, RESUME, RESET_SYNC, RESET_ASYNC, RETURN_TO_POOL, REVERSE, SPLIT, SUSPEND = \
    14, 15, 16, 17, 18, 19, 20, 21, 22


def connect(lab, name: str, url_key: str = "url", password: str | None = None) -> pywbem.WBEMConnection:
    info = lab.array(name)
    conn = pywbem.WBEMConnection(info[url_key], (info["username"], password or info["password"]),
                                 default_namespace=info["namespace"], ca_certs=info["ca_file"], timeout=30)
    conn.session.trust_env = False
    return conn


def volume(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstanceName:
    for inst in conn.EnumerateInstances("CIM_StorageVolume", PropertyList=["ElementName"]):
        if inst["ElementName"] == name:
            return inst.path
    raise AssertionError(f"no volume named {name}")


def device(path: pywbem.CIMInstanceName) -> str:
    return str(path.keybindings["DeviceID"])


def service(conn: pywbem.WBEMConnection, classname: str = "CIM_ReplicationService") -> pywbem.CIMInstanceName:
    system = conn.EnumerateInstanceNames("CIM_ComputerSystem")[0]
    return conn.AssociatorNames(system, AssocClass="CIM_HostedService", ResultClass=classname)[0]


def capabilities(conn: pywbem.WBEMConnection) -> pywbem.CIMInstanceName:
    return conn.AssociatorNames(service(conn), AssocClass="CIM_ElementCapabilities",
                                ResultClass="CIM_ReplicationServiceCapabilities")[0]


def wait_job(conn: pywbem.WBEMConnection, job: pywbem.CIMInstanceName, timeout: float = 15.0) -> pywbem.CIMInstance:
    deadline = time.monotonic() + timeout
    while True:
        inst = conn.GetInstance(job)
        if inst["JobState"] in TERMINAL:
            return inst
        assert time.monotonic() < deadline, f"job still running: {inst.tomof()}"
        time.sleep(0.02)


def job_ok(inst: pywbem.CIMInstance) -> bool:
    return inst["JobState"] == 7 and 2 in inst["OperationalStatus"] and 6 not in inst["OperationalStatus"]


def modify(conn: pywbem.WBEMConnection, op: int, sync: pywbem.CIMInstanceName, **params: t.Any):
    return conn.InvokeMethod("ModifyReplicaSynchronization", service(conn), Operation=U16(op),
                             Synchronization=sync, **params)


def create(conn: pywbem.WBEMConnection, source: str, sync_type: int = MIRROR, mode: int = 2,
           **params: t.Any) -> tuple[pywbem.CIMInstanceName, pywbem.CIMInstanceName]:
    """A replica of volume ``source``, waited for: (synchronization path, target path)."""
    rc, out = conn.InvokeMethod("CreateElementReplica", service(conn), SyncType=U16(sync_type), Mode=U16(mode),
                                SourceElement=volume(conn, source), **params)
    assert rc in (0, 4096), rc
    if rc == 4096:
        assert job_ok(wait_job(conn, out["Job"]))
    return out["Synchronization"], out["TargetElement"]
