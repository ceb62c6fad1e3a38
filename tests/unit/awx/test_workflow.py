"""extensions/awx/workflow.yml: job templates that exist, variables the roles know, workflows that gate on approval."""

from __future__ import annotations

import os

import pytest
import yaml

from awx_model import AWX_DIR, REPO, credential_type_vendors, load_credential_type

with open(os.path.join(AWX_DIR, "workflow.yml"), encoding="utf-8") as _handle:
    SPEC = yaml.safe_load(_handle)
TEMPLATES = {jt["name"]: jt for jt in SPEC["job_templates"]}
WORKFLOWS = {wf["name"]: wf for wf in SPEC["workflow_job_templates"]}
# The templates whose jobs change which side serves production: only after an approval.
DESTRUCTIVE = {name for name, jt in TEMPLATES.items()
               if jt["playbook"] in ("playbooks/failover.yml", "playbooks/failback.yml")}


# The DR rehearsal's templates: launched on their own, never a step of a failover or failback workflow.
REHEARSAL = {name for name, jt in TEMPLATES.items() if jt["playbook"] == "playbooks/dr_test.yml"}
# What the AWX API accepts in a job template's survey_spec (its question types and required keys).
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def role_variables() -> dict[str, object]:
    out: dict[str, object] = {}
    for role in ("backend_replication", "failover", "failback", "dr_test"):
        with open(os.path.join(REPO, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
            out.update(yaml.safe_load(handle) or {})
    return out


def test_job_templates_run_playbooks_of_the_collection_with_variables_it_reads():
    known = role_variables()
    assert len(TEMPLATES) == len(SPEC["job_templates"])
    for name, jt in TEMPLATES.items():
        path = os.path.join(REPO, jt["playbook"])
        assert os.path.isfile(path), f"{name}: no playbook {jt['playbook']}"
        with open(path, encoding="utf-8") as handle:
            playbook = handle.read()
        asked = [q["variable"] for q in (jt.get("survey_spec") or {}).get("spec", [])]
        for var in list(jt.get("extra_vars") or {}) + asked:
            assert var in known or var in playbook, f"{name}: {var} is read by no role and not by {jt['playbook']}"
        waits = [int(v) for k, v in (jt.get("extra_vars") or {}).items() if k.endswith("_wait_timeout")]
        assert jt["timeout"] > max(waits, default=0), f"{name}: the job timeout must outlast the role's waits"


def test_failover_templates_name_their_mode():
    modes = {jt["extra_vars"].get("failover_mode") for jt in TEMPLATES.values()
             if jt["playbook"] == "playbooks/failover.yml"}
    assert modes == {"planned", "unplanned"}
    planned = TEMPLATES["Storage replication: planned failover"]["extra_vars"]
    assert planned["failover_max_lag"] > 0, "a planned failover keeps its RPO gate"
    failback = TEMPLATES["Storage replication: failback"]["extra_vars"]
    assert failback["failback_allow_data_loss"] is False and failback["failback_allow_full_baseline"] is False


def test_the_templates_take_one_credential_of_each_credential_type():
    defaults = SPEC["job_template_defaults"]
    names = [load_credential_type(v)["name"] for v in credential_type_vendors()]
    assert sorted(defaults["credential_types"]) == sorted(names)
    assert defaults["job_slice_count"] == 1 and defaults["allow_simultaneous"] is False
    assert defaults["ask_variables_on_launch"] is False


def _graph(workflow):
    nodes = {n["identifier"]: n for n in workflow["nodes"]}
    assert len(nodes) == len(workflow["nodes"]), "identifiers must be unique"
    edges = {}
    for ident, node in nodes.items():
        assert ("unified_job_template" in node) != ("approval_node" in node), ident
        if "unified_job_template" in node:
            assert node["unified_job_template"] in TEMPLATES, f"{ident}: unknown template"
        else:
            assert node["approval_node"]["name"] and node["approval_node"]["timeout"] > 0
        edges[ident] = [child for kind in ("success_nodes", "failure_nodes", "always_nodes")
                        for child in node.get(kind) or []]
        assert set(edges[ident]) <= set(nodes), f"{ident}: links to an unknown node"
    return nodes, edges


def _paths(edges, start):
    children = edges[start]
    if not children:
        return [[start]]
    return [[start] + rest for child in children for rest in _paths(edges, child)]


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_workflow_gates_failover_and_failback_on_an_approval(name):
    nodes, edges = _graph(WORKFLOWS[name])
    roots = set(nodes) - {child for children in edges.values() for child in children}
    assert len(roots) == 1
    for path in _paths(edges, roots.pop()):  # a cycle would recurse forever: there is none
        for position, ident in enumerate(path):
            if nodes[ident].get("unified_job_template") in DESTRUCTIVE:
                assert any("approval_node" in nodes[i] for i in path[:position]), f"{ident} runs unapproved"
    approvals = [n for n in nodes.values() if "approval_node" in n]
    assert approvals and all(n.get("success_nodes") and not n.get("always_nodes") for n in approvals), \
        "a denied or expired approval must stop the workflow"


def _main_line(workflow):
    nodes, edges = _graph(workflow)
    line = [workflow["nodes"][0]["identifier"]]
    while edges[line[-1]]:
        line.append(edges[line[-1]][0])
    return [nodes[i].get("unified_job_template") or "approval" for i in line]


def test_the_workflows_follow_the_runbook():
    assert _main_line(WORKFLOWS["Storage replication: planned failover"]) == [
        "Storage replication: setup", "Storage replication: status", "approval",
        "Storage replication: planned failover", "Storage replication: status"]
    # An unplanned failover never waits for the primary: no setup, which needs it.
    assert _main_line(WORKFLOWS["Storage replication: unplanned failover"]) == [
        "Storage replication: status", "approval", "Storage replication: unplanned failover",
        "Storage replication: status"]
    assert _main_line(WORKFLOWS["Storage replication: failback"]) == [
        "Storage replication: status", "approval", "Storage replication: failback", "Storage replication: status"]
    for workflow in WORKFLOWS.values():
        last_action = [n for n in workflow["nodes"] if n.get("unified_job_template") in DESTRUCTIVE][0]
        assert last_action.get("always_nodes"), "the state is shown after a failed failover or failback too"


def survey_errors(spec: dict) -> list[str]:
    """What the AWX API refuses in a survey_spec (empty when it accepts it)."""
    errors = [f"'{key}' missing from the survey spec" for key in ("name", "description") if key not in spec]
    questions = spec.get("spec")
    if not isinstance(questions, list) or not questions:
        return errors + ["'spec' must be a list with at least one question"]
    seen = set()
    for question in questions:
        where = f"question {question.get('variable')!r}"
        if question.get("type") not in SURVEY_TYPES:
            errors.append(f"{where}: type must be one of {sorted(SURVEY_TYPES)}")
        errors.extend(f"{where}: '{key}' missing" for key in ("question_name", "variable") if not question.get(key))
        if not isinstance(question.get("required"), bool):
            errors.append(f"{where}: 'required' must be a boolean")
        if question.get("variable") in seen:
            errors.append(f"{where}: a variable asked twice")
        seen.add(question.get("variable"))
        if question.get("type") in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            choices = choices.split("\n") if isinstance(choices, str) else choices
            if not isinstance(choices, list) or not choices:
                errors.append(f"{where}: needs choices")
            elif question.get("default") not in (None, "") and question["default"] not in choices:
                errors.append(f"{where}: the default must be one of the choices")
    return errors


def test_the_rehearsal_is_two_standalone_templates_of_the_dr_test_playbook():
    states = {TEMPLATES[name]["extra_vars"]["dr_test_state"]: name for name in REHEARSAL}
    assert sorted(states) == ["started", "stopped"] and len(REHEARSAL) == 2
    for workflow in WORKFLOWS.values():
        used = {node.get("unified_job_template") for node in workflow["nodes"]}
        assert not used & REHEARSAL, f"{workflow['name']}: a rehearsal is no step of a failover or failback"
    assert not REHEARSAL & DESTRUCTIVE
    start = TEMPLATES[states["started"]]
    assert not start.get("survey_enabled") and "dr_test_allow_data_loss" not in start["extra_vars"]


def test_stopping_the_rehearsal_asks_before_discarding_test_writes():
    stop = next(TEMPLATES[name] for name in REHEARSAL if TEMPLATES[name]["extra_vars"]["dr_test_state"] == "stopped")
    assert stop.get("survey_enabled") is True
    assert survey_errors(stop["survey_spec"]) == []
    (question,) = [q for q in stop["survey_spec"]["spec"] if q["variable"] == "dr_test_allow_data_loss"]
    # A survey answer reaches the role as a string: the default keeps the copies the test wrote to.
    assert question["default"] == "false" and question["required"] is True
    assert "dr_test_allow_data_loss" not in stop["extra_vars"], "the survey answers it, not a fixed value"
    for name, jt in TEMPLATES.items():
        if name not in REHEARSAL:
            assert not jt.get("survey_enabled"), f"{name}: the other templates prompt for nothing"


def test_survey_rules_refuse_what_awx_refuses():
    good = {"variable": "x", "question_name": "X?", "type": "multiplechoice", "choices": ["false", "true"],
            "default": "false", "required": True}
    assert survey_errors({"name": "n", "description": "d", "spec": [good]}) == []
    assert survey_errors({"name": "n", "description": "d", "spec": [dict(good, default="yes")]})
    assert survey_errors({"name": "n", "description": "d", "spec": [dict(good, type="boolean")]})
    assert survey_errors({"name": "n", "description": "d", "spec": [good, good]})
    assert survey_errors({"name": "n", "spec": []})
