"""Remote copy in the VSP simulator, beyond the pair engine: the objects' fields, LDEV attributes, ShadowImage.

A lab of this module's own (``LAB_TOPOLOGY``: ``vsp-a`` and ``vsp-b`` set up for remote
copy as in ``test_vsp_remote.py``). The first test reads every object of
``fields.REMOTE_OBJECTS`` in the states its conditional fields need and checks it has
exactly the fields the table lists. The others check the LDEV attributes real arrays
show for remote-copy volumes (``HORC``, ``GAD``, ``JNL``), ShadowImage's refusal of an
S-VOL in a remote pair, and host access of a volume in both a ShadowImage and a
remote pair (the strictest of the two, whichever engine changed last).
"""

from __future__ import annotations

import typing as t

import pytest
from storage_replication_lab.client import LabError
from storage_replication_lab.vsp import fields

from test_vsp_remote import LAB_TOPOLOGY, PAIRS, SID_A, Site, create, sites_fixture
from vsp_helpers import Vsp

__all__ = ["LAB_TOPOLOGY", "sites_fixture"]  # the lab of test_vsp_remote.py's topology, its two sessions
Records = dict[str, list[dict[str, t.Any]]]
SI_PAIRS = "/local-clone-copypairs"


def attributes(site: Vsp, ldev: int) -> list[str]:
    return list(site.get(f"/ldevs/{ldev}").json()["attributes"])


def access(lab: t.Any, array: str, ldev: int) -> str:
    return str(lab.volume(array, str(ldev))["host_access"])


def si_create(site: Vsp, group: str, pvol: int, svol: int, ok: bool = True) -> dict[str, t.Any]:
    body = {"copyGroupName": group, "copyPairName": "p1", "replicationType": "SI", "pvolLdevId": pvol,
            "svolLdevId": svol, "isNewGroupCreation": True}
    return site.run("POST", SI_PAIRS, body, ok=ok)


def si_id(group: str) -> str:
    return f"{group},{group}P_,{group}S_,p1"


def _read(a: Site, b: Site) -> Records:
    """Every remote object, with TC, UR and GAD pairs and the NotSpecified view of one."""
    tc_a, tc_b = create(a, "TC", "fTC", 256, fenceLevel="NEVER")
    ur_a, _ur_b = create(a, "UR", "fUR", 257, muNumber=1, pvolJournalId=0, svolJournalId=0)
    gad_a, gad_b = create(a, "GAD", "fGAD", 258, quorumDiskId=0)
    local = "NotSpecified,fTC,fTCS_,NotSpecified,p1"
    records: Records = {
        "remote-storages": a.get("/remote-storages").json()["data"] + [b.get(f"/remote-storages/{SID_A}").json()],
        "remotepath-groups": a.get("/remotepath-groups").json()["data"] + b.get("/remotepath-groups").json()["data"],
        "journals": a.get("/journals").json()["data"] + [b.get("/journals/0").json(),
                                                         a.get("/journals", journalInfo="detail").json()["data"][0]],
        "quorum-disks": a.get("/quorum-disks").json()["data"] + [b.get("/quorum-disks/0").json()],
        "remote-mirror-copygroups (list)": a.get("/remote-mirror-copygroups").json()["data"]
        + b.get("/remote-mirror-copygroups").json()["data"],
        "remote-mirror-copygroups/{id}": [a.get(f"/remote-mirror-copygroups/{gad_a.rsplit(',', 1)[0]}").json(),
                                          b.get("/remote-mirror-copygroups/NotSpecified,fTC,fTCS_,NotSpecified")
                                          .json()],
        "remote-mirror-copypairs/{id}": [a.record(x) for x in (tc_a, ur_a, gad_a)]
        + [b.record(tc_b), b.record(gad_b), b.record(local)],
        "remote-copypairs": [e for kind in ("TC", "UR", "GAD") for site in (a, b)
                             for e in site.get("/remote-copypairs", replicationType=kind).json()["data"]],
        "ldevs/{id} (remote copy)": [a.get(f"/ldevs/{i}").json() for i in (256, 257, 258, 1000)]
        + [b.get("/ldevs/256").json()],
    }
    for pair_id in (tc_a, ur_a, gad_a):
        a.run("DELETE", f"{PAIRS}/{pair_id}")
    return records


def test_remote_objects_serve_the_fields_the_table_lists(sites):
    records = _read(*sites)
    table = fields.by_name(fields.REMOTE_OBJECTS)
    assert set(records) == set(table)
    for name, got in records.items():
        obj, seen = table[name], set()
        assert got, name
        for record in got:
            missing, extra = set(obj.served) - set(record), set(record) - obj.allowed
            assert not missing and not extra, (name, sorted(missing), sorted(extra), record)
            seen |= set(record)
        assert {field for field, _state in obj.when} <= seen, name
        assert not set(obj.not_served) & obj.allowed, name
    pair = table["remote-mirror-copypairs/{id}"]
    for group in records["remote-mirror-copygroups/{id}"]:
        assert group["copyPairs"]
        assert all(set(pair.served) <= set(p) <= pair.allowed for p in group["copyPairs"])
    local = records["remote-mirror-copypairs/{id}"][-1]
    assert "svolLdevId" in local and "pvolLdevId" not in local  # the S-VOL's side only
    assert all(set(p["remotePaths"][0]) == {"cuType", "portType", "pathStatus", "localPortId", "remotePortId"}
               for p in records["remotepath-groups"])


def test_ldev_attributes_show_remote_pairs_and_journals(sites):
    a, b = sites
    assert attributes(a, 1000) == ["CVS", "HDP", "JNL"] and attributes(b, 1000) == ["CVS", "HDP", "JNL"]
    assert attributes(a, 262) == ["CVS", "HDP"]
    tc_a, _tc_b = create(a, "TC", "aTC", 262, fenceLevel="NEVER")
    gad_a, _gad_b = create(a, "GAD", "aGAD", 263, quorumDiskId=0)
    ur_a, _ur_b = create(a, "UR", "aUR", 264, muNumber=1, pvolJournalId=0, svolJournalId=0)
    try:
        for site in (a, b):
            assert attributes(site, 262) == ["CVS", "HDP", "HORC"]  # TC: P-VOL and S-VOL
            assert attributes(site, 263) == ["CVS", "HDP", "GAD"]  # GAD, not HORC (Cinder tells them apart)
            assert attributes(site, 264) == ["CVS", "HDP", "HORC"]  # UR
        si_create(a, "aSI", 262, 265)  # an SI pair on the TC P-VOL: both attributes
        assert attributes(a, 262) == ["CVS", "HDP", "MRCF", "HORC"]
        listed = a.get("/ldevs", headLdevId=262, count=1).json()["data"]
        assert listed[0]["attributes"] == ["CVS", "HDP", "MRCF", "HORC"]
        a.run("DELETE", f"{SI_PAIRS}/{si_id('aSI')}")
    finally:
        for pair_id in (tc_a, gad_a, ur_a):
            a.run("DELETE", f"{PAIRS}/{pair_id}")
    for site in (a, b):
        assert [attributes(site, i) for i in (262, 263, 264)] == [["CVS", "HDP"]] * 3


def test_shadowimage_refuses_a_remote_pair_volume_as_its_s_vol(sites):
    a, b = sites
    tc_a, _tc_b = create(a, "TC", "rTC", 266, fenceLevel="NEVER")
    gad_a, _gad_b = create(a, "GAD", "rGAD", 267, quorumDiskId=0)
    try:
        for site, pvol, svol, what in ((a, 268, 266, "P-VOL of the TC pair"), (b, 268, 266, "S-VOL of the TC pair"),
                                       (a, 268, 267, "P-VOL of the GAD pair"), (b, 268, 267, "S-VOL of the GAD pair")):
            job = si_create(site, "rSI", pvol, svol, ok=False)
            error = job["error"]
            assert (error["messageId"], error["errorCode"]) == ("KART30000-E", {"SSB1": "2E10", "SSB2": "9A23"})
            assert f"({svol})" in error["message"] and what in error["message"], error
            assert site.get(f"{SI_PAIRS}/{si_id('rSI')}").status_code == 404  # nothing created
        job = si_create(a, "rSI", 1000, 268, ok=False)  # a journal volume is in no SI pair
        assert "journal volume" in job["error"]["message"]
        si_create(a, "rSI", 266, 268)  # the TC P-VOL as the SI P-VOL: shared, as the guide allows
        a.wait_pair(si_id("rSI"), "PAIR")
        a.run("DELETE", f"{SI_PAIRS}/{si_id('rSI')}")
    finally:
        for pair_id in (tc_a, gad_a):
            a.run("DELETE", f"{PAIRS}/{pair_id}")


def test_shadowimage_on_a_truecopy_s_vol_keeps_its_host_access_and_gets_its_data(sites, lab):
    a, b = sites
    tc_a, _tc_b = create(a, "TC", "hTC", 269, fenceLevel="NEVER")
    assert access(lab, "vsp-b", 269) == "ro"
    si_create(b, "hSI", 269, 270)  # SI P-VOL = TC S-VOL (the guide allows it)
    b.wait_pair(si_id("hSI"), "PAIR")
    assert access(lab, "vsp-b", 269) == "ro"  # the SI pair did not make the TC S-VOL writable
    with pytest.raises(LabError):
        lab.write("vsp-b", "269", blocks=1)
    lab.write("vsp-a", "269", blocks=2, offset=30)  # TC copies it to vsp-b 269, SI on to vsp-b 270
    lab.wait_for(lambda: lab.digest("vsp-b", "270") == lab.digest("vsp-a", "269"), timeout=15)
    b.action(si_id("hSI"), "split")
    b.wait_pair(si_id("hSI"), "PSUS")
    assert (access(lab, "vsp-b", 269), access(lab, "vsp-b", 270)) == ("ro", "rw")
    b.run("DELETE", f"{SI_PAIRS}/{si_id('hSI')}")
    assert access(lab, "vsp-b", 269) == "ro"
    a.act(tc_a, "split", replicationType="TC", svolAccessMode="rw")
    assert access(lab, "vsp-b", 269) == "rw"
    a.run("DELETE", f"{PAIRS}/{tc_a}")


def test_truecopy_on_a_shadowimage_s_vol_keeps_its_host_access_and_copies_its_data(sites, lab):
    a, _b = sites
    si_create(a, "cSI", 259, 260)  # SI first, then TC from the SI S-VOL: the cascade the guide allows
    a.wait_pair(si_id("cSI"), "PAIR")
    assert access(lab, "vsp-a", 260) == "ro"
    tc_a, _tc_b = create(a, "TC", "cTC", 260, fenceLevel="NEVER")
    assert access(lab, "vsp-a", 260) == "ro"  # the TC P-VOL stays an SI S-VOL in PAIR
    lab.write("vsp-a", "259", blocks=3, offset=50)  # SI copies it into 260, TC on to vsp-b 260
    lab.wait_for(lambda: lab.digest("vsp-b", "260") == lab.digest("vsp-a", "259"), timeout=15)
    a.act(tc_a, "split", replicationType="TC")
    assert access(lab, "vsp-a", 260) == "ro"
    a.run("DELETE", f"{PAIRS}/{tc_a}")
    assert access(lab, "vsp-a", 260) == "ro"
    a.run("DELETE", f"{SI_PAIRS}/{si_id('cSI')}")
    assert access(lab, "vsp-a", 260) == "rw"
