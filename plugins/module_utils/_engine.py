"""The replication engine: read, plan, apply, report, written once for every vendor.

A vendor supplies a ``Driver``: how an item is named, one read of everything the
run's plans need, a pure ``plan(item, observed)`` that returns typed ``Action``
values, what a check-mode run predicts, the facts shown in ``--diff``, one
collection poll for every waiting item, and a table of action handlers. The
engine does the rest the same way for every vendor:

- **Plan first, completely.** Every item is planned before anything is sent. A
  plan is final: whatever decides what will be sent (a reverse that must become
  a full re-baseline, the operation a provider offers, a step that is already
  done) is decided in ``plan`` from what ``read`` observed, so check mode reports
  exactly the steps a real run takes. Handlers carry out their action or fail;
  they never drop or add steps. Working state lives in the item's ``Step``,
  never in the user's item.
- **Data-loss guard.** An action that overwrites data present on one side only
  carries ``overwrites`` (what) and ``at_stake`` (bytes, or None when the array
  cannot tell, with ``at_most`` the bound it does give). The engine refuses such
  a plan unless the item says ``allow_data_loss``; zero bytes measured is no
  refusal.
- **One rule for waiting.** A wait that a later action depends on always runs.
  With ``wait: false`` the waits after the plan's last changing action are
  skipped (reported as ``<wait> (skipped: wait=false)``).
- **A write without an answer** (``UnansweredWriteError``) does not end the
  item: the engine reads the item again (``Driver.reread``), plans the rest
  from what the array really did, carries on and says so in a warning (at most
  twice per item).
- **A settle wait** (an action planned with ``args={"replan": True}``, e.g. a wait for a
  copy that was already running, which a rerun joins instead of starting another) ends
  with a new plan for the rest, made from the state it settled in (``Driver.settled``).
- **Waits know the state machine.** While a wait's own check says "not yet", the
  driver's ``course`` hook judges the state seen: a state already past the target in the
  direction of the plan ends the wait at once (reported ``<wait> (already <state>)``) and
  the rest is planned again from it, like a settle wait; a state from which the target
  cannot be reached any more fails the item at once, naming it. These, and settle waits,
  are the only places where a run may take fewer steps than its check-mode run reported,
  because the array moved meanwhile.
- **A dead controller stops the run.** When the controller that started the module is
  gone (``_waiting.Controller``: ansible-playbook killed), no item sends another request:
  each stops before its next action, request or poll, with "the controller is gone:
  stopped before <step>" in its result and in the module's log (syslog or journal).
- **One run acts at a time.** Before its first change a run holds the claims its driver
  names (``_claim``: an object or lock on the array, with an expiry), waiting for a run that
  holds them; then it reads and plans again, so a second run joins or finds nothing to do
  instead of repeating the first run's requests. Check mode and no-op runs claim nothing.
- **After the run** an item whose last step changed its object without a wait
  behind it is read again, so the result shows the array's state.
- **Results** carry the item's identity, ``changed``, the actions that ran,
  the object's facts and the diff; a failure keeps what the array answered
  (its message and code) and the steps that were done.

This is a private module: its API may change at any time.
"""

from __future__ import annotations

import abc
import typing as t

from ._bulk import Call, Item, Wait, recovering, run_items
from ._claim import Claims, ClaimStore
from ._common import ReplicationError, check_run_options, finish_run, merge_item
from ._rest import UnansweredWriteError
from ._waiting import ControllerGone, controller_gone, stop_if_controller_gone, watch_controller

Steps = t.Generator[t.Any, t.Any, t.Any]


class Passed(t.NamedTuple):
    """What ``Driver.course`` answers for a state already past a wait's target: ``seen`` names it."""

    seen: str


#: what ``Driver.course`` answers: None (on its way), Passed, or why the target cannot be reached any more
Course = t.Union[Passed, str, None]


class Action(str):
    """One planned step: its name (the text reported in ``actions``) plus what the plan decided for it.

    It is a ``str`` so that a plan reads and compares as the list of step names it is. ``args`` hold the
    decisions the handler carries out (a body, the operation chosen, the snapshot to use). An action that
    overwrites data present on one side only names it in ``overwrites`` and measures it in ``at_stake``
    (bytes; None when the array cannot tell, and then ``at_most`` is the bound it gives, e.g. the bytes that
    differ between the two sides when it does not say which side was written, and ``bound`` says what that
    bound is). ``details`` go into a refusal's result (e.g. the common snapshot). ``rereads`` is false for a
    step that does not change the object the item reports (a mount), so no read follows it.
    """

    args: dict[str, t.Any]
    overwrites: str | None
    at_stake: int | None
    at_most: int | None
    bound: str
    details: dict[str, t.Any]
    rereads: bool

    def __new__(cls, name: str, args: dict[str, t.Any] | None = None, *, overwrites: str | None = None,
                at_stake: int | None = None, at_most: int | None = None, bound: str = "",
                details: dict[str, t.Any] | None = None, rereads: bool = True) -> Action:
        action = super().__new__(cls, name)
        action.args = dict(args or {})
        action.overwrites = overwrites
        action.at_stake = at_stake
        action.at_most = at_most
        action.bound = bound or "differ between the two sides and the array does not say which side was written"
        action.details = dict(details or {})
        action.rereads = rereads
        return action

    @property
    def name(self) -> str:
        return str(self)

    @property
    def is_wait(self) -> bool:
        return self.startswith("wait_")


def actions_of(names: t.Iterable[str]) -> list[Action]:
    """Plain step names as actions (for plans whose steps need no decisions)."""
    return [n if isinstance(n, Action) else Action(n) for n in names]


def changes(actions: t.Iterable[str]) -> bool:
    """Whether a plan changes anything (anything but waits)."""
    return any(not a.startswith("wait_") for a in actions)


class Step:
    """One item's run: the item, what was observed, the plan's remaining actions and the result so far.

    ``facts`` follow the object through the run (a wait stores the state it ended on); ``vars`` is the
    driver's working state for this item (ids learned on the way, the state an action was issued from).
    """

    def __init__(self, engine: Engine, item: dict[str, t.Any], observed: t.Any, actions: list[Action],
                 record: dict[str, t.Any]) -> None:
        self.engine = engine
        self.driver = engine.driver
        self.item = item
        self.key = engine.driver.key(item)
        self.name = engine.driver.name(item)
        self.observed = observed
        self.facts = engine.driver.facts(item, observed)
        self.actions = actions
        self.action: Action = Action("read")
        self.index = 0  # the position of ``action`` in ``actions``
        self.calls = 0  # the requests ``action`` started so far
        self.record = record
        self.vars: dict[str, t.Any] = {}

    def call(self, fn: t.Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> Steps:
        """Run ``fn`` on a worker thread; its result. Nothing is started once the controller is gone."""
        stop_if_controller_gone()
        self.calls += 1
        return (yield Call(fn, *args, **kwargs))

    def judge(self, check: t.Callable[[t.Any], bool | str], facts: t.Any) -> bool | str:
        """A wait's verdict on ``facts``: its own ``check``, then, while that says "not yet", the driver's
        ``course`` (a state past the target ends the wait, one that cannot reach it fails it)."""
        verdict = check(facts)
        if verdict is not False:
            return verdict
        course = self.driver.course(self, facts)
        if isinstance(course, Passed):
            self.vars["passed"] = course
            return True
        return course if isinstance(course, str) else False

    def wait(self, check: t.Callable[[t.Any], bool | str], what: str, *, key: t.Hashable = None,
             timeout: float | None = None) -> Steps:
        """Wait (holding no thread) until the polled state passes ``check`` (see ``judge``); keeps it in
        ``facts``."""
        driver = self.driver
        self.vars.pop("passed", None)
        facts = yield Wait(self.key if key is None else key, lambda facts: self.judge(check, facts),
                           self.engine.wait_timeout if timeout is None else timeout,
                           f"{self.name} to {what}", driver.describe, driver.rerun)
        self.facts = facts
        return facts

    def warn(self, text: str) -> None:
        self.record.setdefault("warnings", []).append(text)


Handler = t.Callable[[Step], Steps]


class Driver(abc.ABC):
    """What a vendor supplies to the engine (see the module docstring)."""

    #: result key of the object's facts, of the list of item results, and of the item's name
    object_key = "object"
    list_key = "items"
    item_key = "item"
    #: the items in a failure message ("relationships")
    noun = "items"
    #: what a timeout message tells the user to do
    rerun = "Rerun the task: it reads the state and continues from there"

    def __init__(self) -> None:
        self.warnings: list[str] = []

    # identity ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def key(self, item: dict[str, t.Any]) -> t.Hashable:
        """The poll key of an item (what ``poll`` answers for)."""

    def name(self, item: dict[str, t.Any]) -> str:
        return str(self.key(item))

    def record(self, item: dict[str, t.Any]) -> dict[str, t.Any]:
        """The identity fields every result of the item starts with."""
        return {self.item_key: self.name(item)}

    # read and plan -------------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, items: list[dict[str, t.Any]]) -> None:
        """Read everything the plans of ``items`` need, with as few requests as the API allows."""

    @abc.abstractmethod
    def observe(self, item: dict[str, t.Any]) -> t.Any:
        """What ``read`` found for one item, as ``plan`` takes it. Raises ReplicationError for a bad item."""

    @abc.abstractmethod
    def plan(self, item: dict[str, t.Any], observed: t.Any) -> list[Action]:
        """The ordered actions that take the item from ``observed`` to what it declares (pure)."""

    def facts(self, item: dict[str, t.Any], observed: t.Any) -> t.Any:
        """The object's facts in an observation (the result's ``object_key`` before the run)."""
        return observed

    def predict(self, item: dict[str, t.Any], observed: t.Any, actions: list[Action]) -> t.Any:
        """The facts a check-mode run expects after ``actions``."""
        return self.facts(item, observed)

    def diff_view(self, facts: t.Any) -> t.Any:
        return facts or {}

    def describe(self, facts: t.Any) -> t.Any:
        """The state shown in a wait's failure or timeout."""
        return facts

    def course(self, step: Step, facts: t.Any) -> Course:
        """Where the object stands against the wait ``step.action`` is in, called while the wait's own check
        says "not yet": None (on its way, or not judged), ``Passed`` (already past the target in the direction
        of the plan: the wait ends and the rest is planned again from ``facts`` with ``settled``), or a
        message (the target cannot be reached from here any more: the item fails at once, the state shown)."""
        return None

    # apply ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def poll(self, keys: set[t.Hashable]) -> dict[t.Hashable, t.Any]:
        """The current facts of every key, with one collection request where the API allows."""

    @abc.abstractmethod
    def handlers(self) -> t.Mapping[str, Handler]:
        """The action table: step name -> handler (a generator over one ``Step``)."""

    def reread(self, step: Step) -> Steps:
        """Observe one item again (after a write without an answer), on a worker thread; the new observation."""
        yield Call(self.read, [step.item])
        return self.observe(step.item)

    def settled(self, step: Step) -> t.Any:
        """The observation to plan the rest from after a wait planned with ``replan``, or one that found the
        object past its target (its facts in ``step``)."""
        raise ReplicationError(f"{step.name}: {step.action} asks for a new plan, which this driver does not make")

    def finish(self, step: Step) -> None:
        """Fill the item's result after its steps ran (extra facts a driver reports)."""

    def claims(self, items: list[dict[str, t.Any]]) -> list[ClaimStore]:
        """The claims (``_claim``) a run that changes ``items`` holds while it changes them; none by default."""
        return []

    # connections ---------------------------------------------------------------------------------
    #: the longest poll interval the array allows (its session idles out otherwise); None: no limit
    poll_ceiling: float | None = None

    def requests_sent(self) -> int:
        """How many requests the driver's connections sent."""
        return 0

    def close(self) -> None:
        """Close the driver's connections (a session's logout is counted too)."""


class Engine:
    """One module run: every item read, planned, guarded, applied and reported through one driver."""

    def __init__(self, driver: Driver, items: list[dict[str, t.Any]], *, check_mode: bool, wait: bool = True,
                 wait_timeout: float = 1800, poll_interval: float = 1.0, max_workers: int = 10,
                 continue_on_error: bool = False) -> None:
        self.driver = driver
        self.items = items
        self.check_mode = check_mode
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.max_workers = max_workers
        self.continue_on_error = continue_on_error
        self.plans: dict[t.Hashable, list[Action]] = {}
        self.observed: dict[t.Hashable, t.Any] = {}
        self.errors: dict[t.Hashable, ReplicationError] = {}
        #: the items that stopped because the controller is gone, with what they did not do
        self.stopped: list[str] = []

    # plan ----------------------------------------------------------------------------------------
    def plan_all(self) -> None:
        self.driver.read(self.items)
        for item in self.items:
            key = self.driver.key(item)
            try:
                self.observed[key] = self.driver.observe(item)
                self.plans[key] = self.planned(item, self.observed[key])
            except ReplicationError as exc:
                self.errors[key] = exc

    def planned(self, item: dict[str, t.Any], observed: t.Any) -> list[Action]:
        """The driver's plan for one item, once the data-loss guard lets it run."""
        actions = actions_of(self.driver.plan(item, observed))
        guard(self.driver.name(item), item, actions)
        return actions

    # run -----------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, t.Any]]:
        """Plan every item, then drive them all to their end; their results in input order."""
        self.plan_all()
        claims = self.claim()
        try:
            return self._run()
        finally:
            if claims is not None:
                claims.drop()

    def claim(self) -> Claims | None:
        """Before the first change: hold the driver's claims (waiting for a run that holds them), then read and
        plan again, since that run may have changed what this one read."""
        changing = [item for item in self.items if changes(self.plans.get(self.driver.key(item), []))]
        stores = self.driver.claims(changing) if changing and not self.check_mode else []
        if not stores:
            return None
        claims = Claims(stores, self.driver.warnings)
        claims.hold(self.wait_timeout, self.poll_interval)
        if claims.contended:
            self.driver.warnings.append(
                f"waited {claims.waited:.1f}s for another run acting on {', '.join(s.where for s in claims.stores)}, "
                "then read the state again and planned from there")
        self.plans.clear()
        self.observed.clear()
        self.errors.clear()
        self.plan_all()
        return claims

    def _run(self) -> list[dict[str, t.Any]]:
        work = []
        for item in self.items:
            record = self.driver.record(item)
            record.update({"changed": False, "actions": []})
            work.append(Item(self.driver.name(item), self._steps(item, record), record))
        order = work
        if not self.continue_on_error:
            # a plan that failed stops the run before any other item sends anything: those items go first
            failed = {id(w) for w, item in zip(work, self.items) if self.driver.key(item) in self.errors}
            order = sorted(work, key=lambda w: id(w) not in failed)
        run_items(order, self.driver.poll, self.max_workers, self.continue_on_error, self.poll_interval,
                  max(10.0, self.poll_interval), stop=controller_gone)
        if controller_gone() is not None:
            self.stopped += [f"{w.name}: {w.result.get('msg')}" for w in work if w.result and w.result.get("skipped")]
        return [w.result or {} for w in work]

    def _steps(self, item: dict[str, t.Any], record: dict[str, t.Any]) -> Steps:
        driver = self.driver
        key = driver.key(item)
        if key in self.errors:
            exc = self.errors[key]
            observed = self.observed.get(key)
            if observed is not None and driver.object_key not in exc.details:
                exc.details[driver.object_key] = driver.facts(item, observed)
            raise exc
        observed = self.observed[key]
        step = Step(self, item, observed, list(self.plans[key]), record)
        before = step.facts
        record[driver.object_key] = before
        if self.check_mode:
            after = driver.predict(item, observed, step.actions)
            record.update({"changed": changes(step.actions), "actions": [str(a) for a in step.actions],
                           driver.object_key: after,
                           "diff": {"before": driver.diff_view(before), "after": driver.diff_view(after)}})
            driver.finish(step)
            return record
        try:
            yield from recovering(lambda: self._apply(step), lambda exc: self._recover(step, exc),
                                  (UnansweredWriteError,))
        except ControllerGone as exc:
            raise self._stopped(step, exc.why) from None
        ran = step.vars.get("ran") or []
        if record["changed"] and ran and not ran[-1].is_wait and ran[-1].rereads:
            fresh = yield Call(driver.poll, {key})
            step.facts = fresh.get(key)
        record[driver.object_key] = step.facts if record["changed"] or record["actions"] else before
        record["diff"] = {"before": driver.diff_view(before), "after": driver.diff_view(record[driver.object_key])}
        driver.finish(step)
        return record

    def skipped(self, actions: list[Action]) -> set[int]:
        """The waiting rule: with wait=false, the positions of the waits after the last changing action."""
        if self.wait:
            return set()
        last_change = max((n for n, a in enumerate(actions) if not a.is_wait), default=-1)
        return {n for n, a in enumerate(actions) if a.is_wait and n > last_change}

    def _apply(self, step: Step) -> Steps:
        table = self.driver.handlers()
        index = 0
        while index < len(step.actions):
            action = step.actions[index]
            if index in self.skipped(step.actions):
                step.record["actions"].append(f"{action} (skipped: wait=false)")
                index += 1
                continue
            step.action, step.index, step.calls = action, index, 0
            stop_if_controller_gone()
            handler = table.get(action.name)
            if handler is None:
                raise ReplicationError(f"{step.name}: no handler for the planned step {action.name!r}")
            yield from handler(step)
            if not action.is_wait:
                step.record["changed"] = True
            passed = step.vars.pop("passed", None) if action.is_wait else None
            step.record["actions"].append(str(action) if passed is None else f"{action} (already {passed.seen})")
            index += 1
            if action.args.get("replan") or passed is not None:
                # whatever ran on the object settled, or it is past the wait's target already: the rest is
                # planned from where it is
                observed = self.driver.settled(step)
                rest = self.planned(step.item, observed)
                step.observed, step.actions = observed, step.actions[:index] + rest
        step.vars["ran"] = [a for n, a in enumerate(step.actions) if n not in self.skipped(step.actions)]

    def _stopped(self, step: Step, why: str) -> ControllerGone:
        """The failure of an item whose controller is gone: where it stopped and what it did not do."""
        rest = [str(a) for a in step.actions[step.index:]]
        if step.action.is_wait:
            following = step.actions[step.index + 1:step.index + 2]
            where = f"before {following[0]} (in {step.action})" if following else f"in {step.action}"
        elif step.calls:
            where = f"in {step.action}, before its next request"
        else:
            where = f"before {step.action}"
        msg = (f"the controller is gone ({why}): stopped {where}; not done: {', '.join(rest) or 'nothing'}. "
               "Nothing more was sent; a rerun reads the state and continues from there")
        self.stopped.append(f"{step.name}: {msg}")
        return ControllerGone(why, msg)

    def _recover(self, step: Step, exc: BaseException) -> Steps:
        """A write got no answer: read the item again, plan the rest from there, and say so."""
        driver = self.driver
        step.record["actions"].append(f"{step.action} (no answer)")
        observed = yield from driver.reread(step)
        facts = driver.facts(step.item, observed)
        if driver.diff_view(facts) != driver.diff_view(step.facts):
            step.record["changed"] = True
        rest = self.planned(step.item, observed)
        step.observed, step.facts, step.actions = observed, facts, rest
        step.vars.clear()
        step.warn(f"{exc}. Read {step.name} again (now {driver.describe(facts)}) and continued with: "
                  f"{', '.join(rest) or 'nothing left to do'}")


def guard(name: str, item: dict[str, t.Any], actions: list[Action]) -> None:
    """Refuse a plan with a step that overwrites data on one side only, unless the item allows data loss.

    Zero bytes measured is no loss, and so is an unknown amount bounded by zero. The refusal names the
    step, the item and the bytes at stake ("unknown" when the array cannot tell, with the bound it gives)."""
    if item.get("allow_data_loss"):
        return
    for action in actions:
        if action.overwrites is None or action.at_stake == 0 or (action.at_stake is None and action.at_most == 0):
            continue
        verb = action.args.get("verb") or action.name
        if action.at_stake is not None:
            amount = f"{action.at_stake} bytes"
        elif action.at_most is not None:
            amount = f"an unknown amount of data (up to {action.at_most} bytes {action.bound})"
        else:
            amount = "an unknown amount of data"
        extra = {"differing_bytes_at_most": action.at_most} if action.at_most is not None else {}
        raise ReplicationError(
            f"{verb} of {name} would discard {amount} written to {action.overwrites}; set allow_data_loss: true "
            f"to {verb} anyway", discarded_bytes=action.at_stake if action.at_stake is not None else "unknown",
            **extra, **action.details)


def differing_bytes_at_most(percent_same: t.Any, capacity_bytes: int) -> int | None:
    """The most bytes that can differ between two volumes whose array reports ``percent_same`` percent of
    their blocks identical (an integer rounded down, as ShadowImage's copyProgressRate of a split pair and
    SMI-S PercentSynced of a fractured one): 0 at 100 percent, None when the array gives no figure."""
    if percent_same is None or capacity_bytes <= 0:
        return None
    percent = max(0, min(100, int(percent_same)))
    return -(-capacity_bytes * (100 - percent) // 100)


def make_engine(module: t.Any, driver: Driver, items: list[dict[str, t.Any]], params: dict[str, t.Any]) -> Engine:
    """The engine of a module run, with its run options (``run_options`` in ``_common``)."""
    poll = params["poll_interval"] if driver.poll_ceiling is None else min(params["poll_interval"], driver.poll_ceiling)
    return Engine(driver, items, check_mode=module.check_mode, wait=params["wait"],
                  wait_timeout=params["wait_timeout"], poll_interval=poll,
                  max_workers=params["max_workers"], continue_on_error=params["continue_on_error"])


def run_engine(module: t.Any, driver: Driver, items: list[dict[str, t.Any]], params: dict[str, t.Any]) \
        -> list[dict[str, t.Any]]:
    """Run the engine with a module's run options."""
    return make_engine(module, driver, items, params).run()


def log_stopped(module: t.Any, engine: Engine | None) -> None:
    """Say in the module's log (syslog or journal, where its result may never be read) and in its warnings
    that the controller is gone and where each item stopped."""
    why = controller_gone()
    if why is None:
        return
    if engine is None:
        lines = [f"the controller is gone ({why}): stopped before the run began; nothing was sent"]
    else:
        lines = engine.stopped or [f"the controller is gone ({why}), after every item had ended"]
    for line in lines:
        module.log(line)
        module.warn(line)


def run_module(module: t.Any, build: t.Callable[[dict[str, t.Any]], list[dict[str, t.Any]]],
               connect: t.Callable[[dict[str, t.Any], list[dict[str, t.Any]]], Driver], *,
               extras: t.Iterable[str] = (), id_keys: t.Iterable[str] = ()) -> None:
    """A changing module's whole run: its items built and checked, the driver connected, the engine run,
    the connections closed, and the module ended with the results (``finish_run``) or the failure."""
    params = module.params
    watch_controller()
    driver: Driver | None = None
    engine: Engine | None = None
    failure: ReplicationError | None = None
    results: list[dict[str, t.Any]] = []
    try:
        items = build(params)
        check_run_options(params)
        stop_if_controller_gone()
        driver = connect(params, items)
        engine = make_engine(module, driver, items, params)
        results = engine.run()
    except ReplicationError as exc:
        failure = exc
    finally:
        if driver is not None:
            driver.close()
    log_stopped(module, engine)
    sent = driver.requests_sent() if driver is not None else 0
    if failure is not None or driver is None:
        failure = failure or ReplicationError("no driver")
        module.fail_json(msg=str(failure), requests_sent=sent, **failure.details)
        return
    finish_run(module, results, bulk=params.get(driver.list_key) is not None, list_key=driver.list_key,
               object_key=driver.object_key, item_key=driver.item_key, sent=sent, extras=extras, id_keys=id_keys,
               warnings=driver.warnings, noun=driver.noun)


def declared_items(params: dict[str, t.Any], list_key: str, keys: t.Iterable[str]) -> list[dict[str, t.Any]]:
    """A module's items before its own checks: each entry of its ``list_key`` list with the task-level value of
    every key the entry does not set, or the one item of the top-level options; ``state`` defaults to present."""
    keys = tuple(keys)
    if params.get(list_key) is not None and not params[list_key]:
        raise ReplicationError(f"{list_key} is empty: list at least one, or use the single-item options")
    if params.get(list_key):
        items = [merge_item(params, dict(entry), keys) for entry in params[list_key]]
    else:
        items = [{key: params.get(key) for key in keys}]
    for item in items:
        item["state"] = item.get("state") or "present"
    return items
