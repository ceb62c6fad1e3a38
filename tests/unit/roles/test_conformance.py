"""The conformance matrix of issue 13: planned failover loses nothing or refuses, unplanned reports recovery
points, failback never overwrites primary writes that DR does not hold.

One test per (vendor, run shape); inside it every cell is one item of a lab of the test's own, so one setup,
one failover (plus the rerun of a killed one) and one failback run serve all the cells of that vendor and shape.
A cell is (start state of the item, primary written before the failover: pw0/pw1, DR written before the
failback: dw0/dw1). Planned shapes put the two cells that differ only in the DR writes in one set (identical
items up to the failback); unplanned ones, which have no set-wide step, use the vendor's fewest sets.

For each cell, after ``playbooks/failover.yml`` and ``playbooks/failback.yml`` (no ``allow_data_loss``),
either a report row of the item failed (a refusal; a failback refusal names the bytes at stake or "unknown")
and the primary is what it was at the failover, or the DR copy held the primary's data at cutover and the
primary after the failback holds that plus every DR write (lab digests). A failover never changes the
primary; an unplanned one reports each item's recovery point. DR writes happen only on items that failed
over (a refused item stays production on the primary).

Start states per vendor (``conformance_cells.MAPPING``):

=======  ==============================  ================================  ================================
state    ONTAP (ontap-a -> ontap-b)      VSP ShadowImage (vsp-a, local)    SMI-S generic (smis-b, local)
=======  ==============================  ================================  ================================
in_sync  snapmirrored, idle              PAIR                              Synchronized (4), async mirror
paused   paused (quiesced by hand)       PSUE: copy-group split with       Suspended (9)
                                         forceSuspend
split    SKIPPED: SnapMirror has no      PSUS/SSUS: pair split             Fractured (6)
         fracture or split apart from
         the break (the broken cells)
broken   broken_off, DR not written      PSUE: a resync whose copy fails   Broken (5): a Resync whose job
                                         part-way (fail_copies)            fails half way (fail_jobs)
uninit   uninitialized (created, no      PSUS: the initial copy cancelled  Aborted (12): the initial copy
         state; not set up)              by a split (next resync full)     aborted
running  update transfer running         COPY: resync at copyPace 1, slow  Synchronizing (3): Resync, slow
         (throttled, 32 blocks)          pace_rate, 32 blocks              copy_rate, 32 blocks
=======  ==============================  ================================  ================================

Run shapes: ``straight`` (planned failover, failback); ``killed`` (the planned failover's process group is
killed at its first cutover request, then failover.yml runs again); ``unplanned`` (``failover_mode:
unplanned``; ONTAP's source array ontap-a is down during the failover and back up for the failback; VSP and
SMI-S copies are local, the source array is the DR array, so it stays up).

Sets: the failover always runs with the sets above. The failback runs with the same sets for VSP (a VSP set is
a copy group, and its failback reads the group of the set's first item), and with one set of every item for
ONTAP and SMI-S, whose failback has no set-wide step: per set it reads the whole SVMs (ONTAP: both clusters,
four times, ~16 s of module runs per set) or the whole namespace, so one set gives every item the same steps
in a fraction of the time. Setup is not under test: ONTAP and SMI-S run setup.yml once with one set, VSP
pairs are made through REST in each set's copy group, as setup.yml would make them.

Each test prints its cell table: ``pytest -s`` without ``-n``, or ``-rA`` with it (xdist keeps a worker's
output until the summary); a failing test shows it as captured output.

Run it with ``make conformance`` (part of ``make test``). Two rules keep a rerun from repeating a step
while a hand-made state is still caught up: an item in its cutover state counts as failed over only when it
holds all of its source's data (ONTAP ``source_written_bytes`` 0, ShadowImage ``copyProgressRate`` 100), and
a VSP unplanned failover reports a pair split before it with differing volumes as failed (its S-VOL holds an
undated older point in time).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
import typing as t

import pytest
from conformance_cells import (BYTES, DRIVERS, MAPPING, SHAPE_NOTES, SHAPES, VENDORS, WRITE_BLOCKS, Cell, group_sets,
                               make_cells, mentions)
from playbook_runs import playbook
from storage_replication_lab.client import LabProcess

WAITS = {"backend_replication_wait_timeout": 120, "failover_wait_timeout": 120, "failover_quiesce_timeout": 5,
         "failback_wait_timeout": 120}


@dataclasses.dataclass
class Digests:
    """One cell's digests: primary before (p0) and after (p1) the failover, DR after it (d1) and after the DR
    writes (d2), primary after the failback (p3)."""

    p0: str = ""
    p1: str = ""
    d1: str = ""
    d2: str = ""
    p3: str = ""
    note: str = ""


@dataclasses.dataclass
class Run:
    """What one test saw: the cells, their sets, digests, report rows and timings."""

    driver: t.Any
    cells: list[Cell]
    groups: dict[str, list[Cell]]
    digests: dict[str, Digests] = dataclasses.field(default_factory=dict)
    failover_rows: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    failback_rows: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    times: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def live(self) -> list[Cell]:
        """The cells that run (a skipped cell has no item)."""
        return [c for c in self.cells if not c.skip]

    def sets(self, only_set_up: bool = False, failback: bool = False) -> list[dict[str, t.Any]]:
        """The replication sets, running ones first (read and caught up while their transfer runs); with
        ``only_set_up`` without the items setup.yml must not create (they are made by hand); for the failback
        of a vendor whose failback has no set-wide step (``merged_failback``), one set of every item."""
        if failback and self.driver.merged_failback:
            return [self.driver.replication_set("cf-failback", self.live)]
        out = []
        for name, members in sorted(self.groups.items(), key=lambda g: not any(c.state == "running" for c in g[1])):
            if only_set_up:
                members = [c for c in members if c.state not in self.driver.not_set_up]
            if members:
                out.append(self.driver.replication_set(name, members))
        return out


def run_playbook(lab: t.Any, name: str, tmp_path: t.Any, sets: list[dict[str, t.Any]],
                 extra: dict[str, t.Any]) -> tuple[dict[str, t.Any], str]:
    """Run a role playbook with its JSON report; the play fails (rc 2) exactly when a report row failed."""
    report = os.path.join(tmp_path, f"{name}-report.json")
    if os.path.exists(report):
        os.unlink(report)
    proc = playbook(lab, name, tmp_path, extra=dict(WAITS, **{f"{name}_report_file": report}, **extra),
                    sets=sets, wait=False)
    out, _err = proc.communicate(timeout=900)
    assert os.path.exists(report), f"{name}.yml wrote no report (rc {proc.returncode}): {out[-3000:]}"
    with open(report, encoding="utf-8") as handle:
        data = json.load(handle)
    failed = any(row.get("failed") for row in data["rows"])
    assert proc.returncode == (2 if failed else 0), f"rc {proc.returncode}, failed rows: {failed}: {out[-3000:]}"
    return data, out


def arrange(lab: t.Any, run: Run, tmp_path: t.Any) -> None:
    """Setup, each item to its start state, the primary writes; record the primary digests (p0)."""
    driver = run.driver
    setup_sets = run.sets(only_set_up=True)
    if driver.merged_setup:  # setup is not under test: one bulk set is quicker than many
        playbook(lab, "setup", tmp_path, extra=WAITS, sets=[
            driver.replication_set("cf-setup", [c for c in run.live if c.state not in driver.not_set_up])])
    else:
        driver.set_up(lab, run.groups)
    set_up = {s["name"] for s in setup_sets}
    running = [c for c in run.live if c.state == "running"]
    others = [c for c in run.live if c.state != "running"]
    driver.prepare(lab, others, run.groups, set_up)
    for cell in others:
        if cell.pw:
            lab.write(driver.source_array, driver.source_key(cell), WRITE_BLOCKS)
    driver.start_running(lab, running, run.groups)
    for cell in running:
        if cell.pw:
            lab.write(driver.source_array, driver.source_key(cell), WRITE_BLOCKS)
    for cell in run.live:
        run.digests[cell.id] = Digests(p0=lab.digest(driver.source_array, driver.source_key(cell)))


def kill_at_first_cutover(lab: t.Any, run: Run, tmp_path: t.Any, extra: dict[str, t.Any]) -> None:
    """Start failover.yml, SIGKILL its process group at the first cutover request the arrays see."""
    mark = lab.mark()
    report = os.path.join(tmp_path, "failover-report.json")
    proc = playbook(lab, "failover", tmp_path, extra=dict(WAITS, failover_report_file=report, **extra),
                    sets=run.sets(), wait=False)
    seen: list[dict[str, t.Any]] = []

    def cutover() -> bool:
        seen[:] = [e for e in lab.log(since=mark, mutating=True) if run.driver.is_cutover(e)]
        return bool(seen) or proc.poll() is not None

    try:
        lab.wait_for(cutover, timeout=600, interval=0.05)
    finally:
        alive = proc.poll() is None
        if alive:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert alive, "the failover ended before its first cutover request: the kill tested nothing"
    first = seen[0]
    what = first.get("body") or first.get("cim_params") or ""
    run.notes.append(f"killed at the first cutover request: {first.get('method')} {first.get('path')} {what}")


def fail_over(lab: t.Any, run: Run, shape: str, tmp_path: t.Any) -> None:
    """The failover of the shape; then the primary (p1) and DR (d1) digests."""
    driver, extra = run.driver, {}
    down = shape == "unplanned" and driver.source_array != driver.dr_array
    if shape == "unplanned":
        extra["failover_mode"] = "unplanned"
    if shape == "killed":
        kill_at_first_cutover(lab, run, tmp_path, extra)
    if down:
        lab.down(driver.source_array)
    try:
        report, _out = run_playbook(lab, "failover", tmp_path, run.sets(), extra)
    finally:
        if down:
            lab.up(driver.source_array)
    driver.after_failover(lab)
    run.failover_rows = report["rows"]
    for cell in run.live:
        digests = run.digests[cell.id]
        digests.p1 = lab.digest(driver.source_array, driver.source_key(cell))
        digests.d1 = lab.digest(driver.dr_array, driver.dr_key(cell))


def write_dr(lab: t.Any, run: Run) -> None:
    """DR writes on the dw1 items that failed over (a refused item stays production on the primary)."""
    driver = run.driver
    for cell in run.live:
        digests = run.digests[cell.id]
        failed_over = not any(r.get("failed") for r in rows_of(run.failover_rows, driver, cell))
        access = lab.volume(driver.dr_array, driver.dr_key(cell))["host_access"]
        if cell.dw and failed_over and access == "rw":
            lab.write(driver.dr_array, driver.dr_key(cell), WRITE_BLOCKS)
        elif cell.dw:
            digests.note = f"no DR write ({'not failed over' if not failed_over else 'DR host access ' + access})"
        digests.d2 = lab.digest(driver.dr_array, driver.dr_key(cell))


def rows_of(rows: list[dict[str, t.Any]], driver: t.Any, cell: Cell) -> list[dict[str, t.Any]]:
    """The report rows about the cell's item."""
    return [r for r in rows if mentions(r, driver.token(cell))]


def judge(run: Run, cell: Cell) -> tuple[str, list[str]]:
    """The cell's outcome ("ok ..." or "refused at <step>: <msg>") and what is wrong with it."""
    driver, d = run.driver, run.digests[cell.id]
    fo_rows, fb_rows = rows_of(run.failover_rows, driver, cell), rows_of(run.failback_rows, driver, cell)
    problems = []
    if not fo_rows:
        problems.append("no failover report row")
    if d.p1 != d.p0:
        problems.append("the failover changed the primary")
    if cell.shape == "unplanned":
        problems += [f"unplanned failover row without a recovery point: {r['item']}"
                     for r in fo_rows if not r.get("failed") and not r.get("recovery_point")]
    came_home = d.d1 == d.p1 and d.p3 == d.d2
    refusals = [("failover", r) for r in fo_rows if r.get("failed")] + \
               [("failback", r) for r in fb_rows if r.get("failed")]
    if cell.shape != "unplanned" and fo_rows and not any(s == "failover" for s, _r in refusals) and d.d1 != d.p1:
        problems.append("the planned failover cut over without the primary's writes (DR at cutover differs)")
    final = [r.get("state") for r in fb_rows if r.get("step") == "final"]
    if refusals:
        step, row = refusals[0]
        outcome = f"refused at {step} [{row['item']}]: {str(row.get('msg'))[:220]}"
        if step == "failback" and not any(BYTES.search(str(r.get("msg"))) for s, r in refusals if s == step):
            problems.append("the failback refusal names no bytes (or 'unknown')")
        if not (d.p3 == d.p1 or came_home):
            problems.append("the primary changed although a step refused")
    else:
        outcome = f"ok (final: {','.join(map(str, final)) or '-'})"
        if d.d1 != d.p1:
            problems.append("DR at cutover differs from the primary at cutover, and nothing refused")
        if d.p3 != d.d2:
            problems.append("primary after failback is not the primary at failover plus the DR writes")
    if d.note:
        outcome += f"; {d.note}"
    return outcome, problems


def report_table(run: Run, vendor: str, shape: str) -> list[str]:
    """Print the cell table (``pytest -s``) and return the problems found, one line per cell."""
    lines, problems = [f"\n== conformance {vendor} / {shape}: {SHAPE_NOTES[shape]}"], []
    lines += [f"   {note}" for note in run.notes]
    lines.append("   times: " + ", ".join(f"{k} {v:.1f}s" for k, v in run.times.items()))
    for cell in run.cells:
        if cell.skip:
            lines.append(f"{cell.id:<34} skipped: {cell.skip}")
            continue
        outcome, wrong = judge(run, cell)
        lines.append(f"{cell.id:<34} {MAPPING[vendor][cell.state]:.28} | {outcome}")
        problems += [f"{cell.id}: {p} ({outcome})" for p in wrong]
        lines += [f"{'':<34} BUG: {p}" for p in wrong]
    print("\n".join(lines))
    return problems


def fail_back(lab: t.Any, run: Run, tmp_path: t.Any) -> None:
    """failback.yml without allow_data_loss; then the primary digests (p3)."""
    report, _out = run_playbook(lab, "failback", tmp_path, run.sets(failback=True), {})
    run.failback_rows = report["rows"]
    for cell in run.live:
        run.digests[cell.id].p3 = lab.digest(run.driver.source_array, run.driver.source_key(cell))


@pytest.mark.parametrize("vendor,shape", [(v, s) for v in VENDORS for s in SHAPES],
                         ids=[f"{v}-{s}" for v in VENDORS for s in SHAPES])
def test_failover_and_failback_lose_nothing_or_refuse(vendor: str, shape: str, tmp_path: t.Any) -> None:
    """Every cell of the vendor and run shape, on a lab of the test's own: each refuses naming its item (and,
    at failback, the bytes at stake) with the primary unchanged, or comes home with nothing lost."""
    driver = DRIVERS[vendor]
    cells = make_cells(vendor, shape)
    run = Run(driver, cells, group_sets(driver, cells))
    os.makedirs(os.path.join(tmp_path, "lab"))
    process = LabProcess(driver.topology(len(run.live)), state_dir=os.path.join(tmp_path, "lab"))
    lab = process.start()
    try:
        clock = time.monotonic()
        for phase, step in (("arrange", lambda: arrange(lab, run, tmp_path)),
                            ("failover", lambda: fail_over(lab, run, shape, tmp_path)),
                            ("dr writes", lambda: write_dr(lab, run)),
                            ("failback", lambda: fail_back(lab, run, tmp_path))):
            step()
            run.times[phase], clock = time.monotonic() - clock, time.monotonic()
    finally:
        process.stop()
    problems = report_table(run, vendor, shape)
    assert not problems, "\n".join(problems)
