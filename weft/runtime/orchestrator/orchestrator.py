"""The orchestrator: a free-text task in, an answer with its run id out.

    task -> experience lookup -> plan (LLM or rules) -> validate + route (every
    answer of the planner; invalid ones are counted and re-asked, never run)
    -> workflow (one node per subtask + an answer node) -> dataflow executor
    (independent subtasks in parallel) -> answer -> record experience

Actions come from an ``ActionRegistry``, whatever their transport: local
tools and agents, workflows, or remote agents on the bus registered as
actions. The planner, router, aggregator and experience store are all
replaceable; the defaults need no model (``RulePlanner``, ``LexicalRouter``,
``ConcatAggregator``, ``NoExperience``).

Budgets (``OrchestratorBudget``) are checked on the plan, estimated from the
routed agents' cards before running, and enforced while running: tokens and
cost as node results arrive, time with a timer. A run over budget is
cancelled (journaled as cancelled) and the answer says why, keeping the
results of the subtasks that finished; a limit passed once the answer is
made cancels nothing, and the answer stands with a note (``BudgetWatch``,
``answer.budget_notes``). The budget is
journaled with the ask, and a resumed ask is held to it, counting what it
spent before it stopped (``resume_budget``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from weft.protocols import (
    Action,
    ActionSpec,
    NodeState,
    Router,
    RunState,
    Usage,
    WeftError,
    WorkflowSpec,
    new_id,
)
from weft.runtime.engine.capability import bind_resolver, refusal_of
from weft.runtime.engine.compiler import PreparedWorkflow, compile_workflow
from weft.runtime.engine.executor import Listener
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.lease import Lease
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.orchestrator import workflow_ask
from weft.runtime.orchestrator.aggregate import ConcatAggregator
from weft.runtime.orchestrator.answer import (
    Answer,
    PlanningError,
    answer_error,
    budget_notes,
    questions_of,
)
from weft.runtime.orchestrator.ask_record import AskRecord, saving
from weft.runtime.orchestrator.compile import (
    ANSWER_NODE,
    accepts_subtask,
    cluster_actions,
    plan_inputs,
    plan_to_workflow,
    takes_no_subtask,
)
from weft.runtime.orchestrator.experience import ExperienceStore, NoExperience, Recall
from weft.runtime.orchestrator.fixed_ask import fixed_answer, task_inputs
from weft.runtime.orchestrator.plan import OrchestratorBudget, Plan, PlanFailure
from weft.runtime.orchestrator.plan_check import RejectedPlans, check_plan
from weft.runtime.orchestrator.plan_hook import PlanHook, notify_plan
from weft.runtime.orchestrator.planners import Planner, PlanRequest
from weft.runtime.orchestrator.planning_time import PlanChoice, within_time
from weft.runtime.orchestrator.resume import Engine, take_ask
from weft.runtime.orchestrator.reuse import experience_of, remember, reuse_summary
from weft.runtime.orchestrator.routing import (
    RouteChoice,
    SubtaskRouter,
    teach_router,
)
from weft.runtime.orchestrator.rule_planner import RulePlanner
from weft.runtime.orchestrator.run_support import (
    BudgetWatch,
    SpanSink,
    UnstartedRun,
    on_engine,
    trace_routes,
)
from weft.runtime.orchestrator.validator import PlanValidator
from weft.runtime.routing.embeddings.base import Embedder
from weft.runtime.routing.lexical_router import LexicalRouter
from weft.runtime.teams.grouping import plan_channels
from weft.runtime.tracing.spans import Tracer
from weft.workflows import Workflow


class Orchestrator:
    """Answers tasks with the actions in ``actions``; see the module docstring.

    ``journal``/``tracer``/``listeners``/``concurrency`` are passed to the
    executor. With ``sync_cards`` the cards of the available actions are
    upserted into the router before routing (turn it off for a router that is
    fed from elsewhere, e.g. cards on the bus). ``on_plan(plan, routes,
    clusters)`` is called with the accepted plan, its routes (subtask ->
    action) and its clusters (``channel_<id>`` -> subtask ids; empty without
    ``cluster_rounds``) before the run starts, so a terminal can show them
    while the subtasks run; a hook that takes two arguments gets the first two
    (``plan_hook``). ``on_planning(line)`` is told what planning does before a plan
    is accepted (an answer rejected and the model asked again, the fallback planner
    taking over, a remembered plan reused), one line each.
    ``cluster_rounds`` (FoA): independent subtasks with the same inputs routed
    to the same agent (or, with ``cluster_embedder``, to agents whose cards are
    similar) run as one cluster that refines for that many rounds and answers
    with its synthesis (``weft.runtime.teams``).

    ``fallback_planner`` plans when ``planner`` gives no acceptable plan (a
    small local model may write nothing valid even after being re-asked):
    ``"rules"`` (the default) is the model-free ``RulePlanner``, ``"none"``
    raises ``PlanningError`` instead. A planner whose model fails for good
    (``model_error``: auth, quota, an endpoint that is down) gets no fallback:
    that is a configuration error to report, not a plan to improvise. A
    fallback leaves a note on the answer
    (``Answer.notes``) and keeps the rejected plans in ``plan_failures``.

    With a ``journal``, a planned ask journals its plan and routes with its run
    (``ask_record``), plus ``resume_options`` (whatever the caller needs to
    build this orchestrator again), so that ``resume`` can finish it.
    """

    def __init__(
        self,
        actions: ActionRegistry | Iterable[Any] | Mapping[str, Any],
        *,
        planner: Planner | None = None,
        router: Router | None = None,
        aggregator: Action | None = None,
        budget: OrchestratorBudget | None = None,
        experience: ExperienceStore | None = None,
        journal: Journal | None = None,
        tracer: Tracer | None = None,
        listeners: Sequence[Listener] = (),
        concurrency: int | None = None,
        sync_cards: bool = True,
        on_plan: PlanHook | None = None,
        on_planning: Callable[[str], None] | None = None,
        fallback_planner: Planner | Literal["rules", "none"] = "rules",
        cluster_rounds: int | None = None,
        cluster_embedder: Embedder | None = None,
        resume_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.registry = (
            actions
            if isinstance(actions, ActionRegistry)
            else ActionRegistry(dict(actions) if isinstance(actions, Mapping) else list(actions))
        )
        self.planner: Planner = planner or RulePlanner()
        self.fallback_planner: Planner | None = (
            None
            if fallback_planner == "none" or isinstance(self.planner, RulePlanner)
            else RulePlanner()
            if fallback_planner == "rules"
            else fallback_planner
        )
        self.router: Router = router or LexicalRouter()
        self.aggregator: Action = aggregator or ConcatAggregator()
        self.budget = budget or OrchestratorBudget()
        self.experience: ExperienceStore = experience or NoExperience()
        self.journal = journal
        self.tracer = tracer
        self.listeners = list(listeners)
        self.concurrency = concurrency
        self.sync_cards = sync_cards
        self.on_plan = on_plan
        self.on_planning = on_planning
        self.validator = PlanValidator(self.budget)
        #: Set: independent subtasks routed to similar agents refine each other in a cluster
        #: for this many rounds (``weft.runtime.teams.plan_channels``), then synthesise.
        self.cluster_rounds = cluster_rounds
        self.cluster_embedder = cluster_embedder
        self.resume_options = dict(resume_options or {})

    def candidates(self) -> dict[str, ActionSpec]:
        """The actions a subtask may be routed to (those that can take a subtask)."""
        aggregator = self.aggregator.spec.name
        return {
            name: spec
            for name, spec in self.registry.specs().items()
            if name != aggregator and accepts_subtask(spec)
        }

    async def ask(
        self,
        task: str,
        *,
        run_id: str | None = None,
        workflow: Workflow | WorkflowSpec | str | Path | None = None,
    ) -> Answer:
        """Plan, route, run and aggregate ``task``; ``workflow`` skips planning and runs that.

        Raises ``PlanningError`` when no plan passes validation (nothing ran),
        ``DefinitionError``/``WeftError`` for configuration mistakes. A run that
        fails or goes over budget is an ``Answer`` with ``ok`` false, not an error.
        Either way the run's trace ends: an ask that fails before its workflow
        runs is recorded as a failed ``ask`` run (``run_support.UnstartedRun``).
        """
        started = time.time()
        run_id = run_id or new_id()
        if not task.strip():
            raise WeftError("the task is empty")
        with UnstartedRun(self.tracer, run_id, task, started) as unstarted:
            if workflow is not None:
                return await self._run_fixed(task, workflow, run_id, started, unstarted)
            return await self._plan_and_run(task, run_id, started, unstarted)

    async def resume(
        self,
        run_id: str,
        *,
        answers: Mapping[str, Any] | None = None,
        force: bool = False,
        on_takeover: Callable[[Lease], None] | None = None,
        journal_mode: str | None = None,
        budget: OrchestratorBudget | None = None,
        engine: Engine = "weft",
    ) -> Answer:
        """Finish the planned ask ``run_id`` (a prefix will do) of this orchestrator's journal:
        failed, cancelled, killed, or ``needs_input`` and now given ``answers`` (node name
        or execution key -> answer, as ``resume_run`` takes them).

        Its journaled plan and routes run again on this orchestrator's actions, which
        must include every routed one and the same aggregator (``WeftError``
        otherwise); finished calls are not repeated, and the aggregator makes the answer.
        How it ends replaces the ask's experience record (``resume`` module docstring).
        Refusals are ``resume_run``'s: a run that succeeded, one another process holds
        (``RunInProgressError``), a changed graph unless ``force``
        (``ResumeMismatchError``), an answer no node is waiting for.

        The ask's own budget holds, counting what it spent before (``resume_budget``;
        the answer's ``usage`` is the whole ask's): ``budget`` replaces it (to finish
        an ask its budget stopped, give a larger one); this orchestrator's ``budget``
        bounds only asks journaled before budgets were. A resume that would start
        over budget raises ``BudgetUsedUp`` before anything runs. ``engine="langgraph"``
        finishes the run on LangGraph's engine, as ``resume_langgraph`` does a
        workflow run (``WeftError`` when ``langgraph`` is not installed).
        """
        started = time.time()
        ready = take_ask(
            self.journal,
            run_id,
            self.registry,
            self.aggregator,
            answers=answers,
            force=force,
            on_takeover=on_takeover,
            on_plan=self.on_plan,
            budget=budget,
            fallback_budget=self.budget,
            engine=engine,
        )
        usage = ready.record.planner_usage
        result, stopped, spent, watch = await self._execute(
            ready.prepared,
            ready.inputs,
            ready.run_id,
            ready.spent.usage,
            journal_mode=journal_mode,
            budget=ready.budget,
            ran_s=ready.spent.seconds,
            engine=engine,
            final=ANSWER_NODE,
            **ready.options,
        )
        learnt = []
        if result is not None:
            learnt = await remember(
                "recording routing outcomes",
                teach_router(self.router, ready.choices(), result, resumed=True),
            )
        record = ready.record
        answer = self._answer(
            ready.run_id,
            started,
            result,
            stopped,
            spent,
            usage,
            [],
            record.plan,
            ready.choices(),
            watch,
        )
        answer.notes = [*budget_notes(record.plan, stopped, watch), *learnt]
        # how the ask ended after all: replaces what it recorded when it stopped
        experience = experience_of(
            record.task, record.plan, answer, result, reused=record.reused, resumed=True
        )
        answer.notes += await remember("recording in memory", self.experience.record(experience))
        return answer

    async def _plan_and_run(
        self, task: str, run_id: str, started: float, unstarted: UnstartedRun
    ) -> Answer:
        """Plan, route, compile, then run: ``ask`` without a given workflow."""
        specs = self.candidates()
        if not specs:
            given = [
                s for s in self.registry.specs().values() if s.name != self.aggregator.spec.name
            ]
            raise WeftError(
                "no agents to route to: give actions that take a 'task' or a single argument"
                + (f" ({takes_no_subtask(given)})" if given else "")
            )
        # an agent on the broker is judged when the router chooses its action (``routing``)
        router = SubtaskRouter(
            self.router, specs, refusal=lambda name: refusal_of(self.registry.get(name))
        )
        if self.sync_cards:
            await router.sync()
        accepted: dict[str, list[RouteChoice]] = {}

        rejected = RejectedPlans(self.tracer, run_id, unstarted.plan_span)

        async def check(plan: Plan) -> list[str]:
            problems, choices = await check_plan(plan, self.validator, router, specs, self.router)
            if problems:  # traced with its routes: why it was dropped
                rejected.trace(plan, problems, choices)
            else:
                accepted[plan.model_dump_json()] = choices
            return problems

        found = await self.experience.lookup(task)
        recall = found if isinstance(found, Recall) else None
        request = PlanRequest(
            task=task,
            actions=list(specs.values()),
            budget=self.budget,
            check=check,
            hint=recall.plan if recall is not None else found if isinstance(found, Plan) else None,
            context=SpanSink(self.tracer, run_id, "plan", unstarted.plan_span),
            report=self.on_planning,
        )
        notes: list[str] = []
        choosing = PlanChoice(self.planner, self.fallback_planner, self.tracer, run_id, notes)
        plan, failures, planner_usage, recall = await within_time(
            self.budget.max_time,
            choosing.choose(recall, check, request, accepted, unstarted.plan_span),
        )
        if plan is None:
            raise PlanningError(failures, planner_usage)
        choices = accepted[plan.model_dump_json()]
        trace_routes(self.tracer, run_id, choices, parent_id=unstarted.plan_span)
        routes = {c.subtask: c.action for c in choices if c.action is not None}
        unstarted.planned(
            {
                "output": [
                    {**s.model_dump(mode="json", exclude_defaults=True), "action": routes.get(s.id)}
                    for s in plan.subtasks
                ],
                "weft.subtasks": len(plan.subtasks),
                "weft.reused": recall.record if recall is not None else None,
            }
        )
        channels = self._channels(plan, routes, router)
        if self.on_plan is not None:
            clusters = {action.spec.name: list(ids) for ids, action in channels}
            notify_plan(self.on_plan, plan, routes, clusters)
        workflow_def = plan_to_workflow(
            plan,
            routes,
            specs,
            aggregator=self.aggregator.spec,
            description=task[:200],
            channels=channels,
        )
        run_registry = self.registry.merged(ActionRegistry([self.aggregator]))
        unstarted.stage = "compile"
        prepared = compile_workflow(workflow_def, run_registry)
        unstarted.executing = True
        record = AskRecord(
            task=task,
            plan=plan,
            routes=routes,
            decisions={c.subtask: c.decision for c in choices},
            aggregator=self.aggregator.spec.name,
            cluster_rounds=self.cluster_rounds,
            channels=[list(ids) for ids, _ in channels],
            planner_usage=planner_usage,
            planning_s=time.time() - started,
            budget=self.budget,
            reused=recall.record if recall is not None else None,
            options=self.resume_options,
        )
        result, stopped, spent, watch = await self._execute(
            prepared,
            plan_inputs(task, plan),
            run_id,
            planner_usage,
            also=[saving(self.journal, run_id, record)] if self.journal is not None else [],
            ran_s=record.planning_s,  # planning spent this much of the time budget
            final=ANSWER_NODE,
        )
        answer = self._answer(
            run_id, started, result, stopped, spent, planner_usage, failures, plan, choices, watch
        )
        answer.notes = [*notes, *budget_notes(plan, stopped, watch)]
        if recall is not None:
            answer.reuse = reuse_summary(recall)
        await self._learn(task, plan, choices, answer, result, recall)
        return answer

    def _channels(
        self, plan: Plan, routes: dict[str, str], router: SubtaskRouter
    ) -> list[tuple[list[str], Action]]:
        """FoA channels of the plan as cluster actions, when ``cluster_rounds`` is set."""
        if self.cluster_rounds is None:
            return []
        found = plan_channels(
            [(s.id, frozenset(s.depends_on), router.card_of(routes[s.id])) for s in plan.subtasks],
            embedder=self.cluster_embedder,
        )
        return cluster_actions(found, routes, self.cluster_rounds)

    async def _execute(
        self,
        prepared: PreparedWorkflow,
        inputs: dict[str, Any],
        run_id: str,
        already: Usage,
        also: Sequence[Listener] = (),
        *,
        budget: OrchestratorBudget | None = None,
        ran_s: float = 0.0,
        engine: Engine = "weft",
        final: str | None = None,
        **resume: Any,
    ) -> tuple[RunResult | None, str | None, Usage, BudgetWatch]:
        """Run with budget enforcement: ``(result, why it was stopped, usage so far, the
        watch)``; the watch has the outputs of the nodes that finished, for a run it
        stopped, and the limit passed once the ``final`` node had succeeded, for one it
        did not (``BudgetWatch``).

        ``already`` is what the ask spent before (planning; for a resume, its earlier
        runs too) and ``ran_s`` the seconds its earlier runs ran: both count against
        ``budget`` (default: this orchestrator's). ``also`` are more listeners;
        ``resume`` the engine's options for a resumed run, which ``engine`` finishes.
        """
        budget = budget or self.budget
        watch = BudgetWatch(budget, already, ran_s, final=final, cached=resume.get("cache"))
        running = on_engine(
            engine,
            prepared,
            inputs,
            run_id,
            journal=self.journal,
            tracer=self.tracer,
            listeners=[*also, *self.listeners, watch],
            concurrency=self.concurrency,
            resume=resume,
        )
        task = asyncio.get_running_loop().create_task(running, name=f"weft-ask-{run_id[:8]}")
        watch.task = task
        try:
            result = await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if watch.reason is not None and (current is None or not current.cancelling()):
                return None, watch.reason, watch.tally.total(), watch
            raise
        finally:
            watch.close()
        return result, None, already.add(result.usage), watch

    def _answer(
        self,
        run_id: str,
        started: float,
        result: RunResult | None,
        stopped: str | None,
        usage: Usage,
        planner_usage: Usage,
        failures: list[PlanFailure],
        plan: Plan | None,
        choices: list[RouteChoice],
        watch: BudgetWatch | None = None,
    ) -> Answer:
        results: dict[str, Any] = {}
        if result is None and watch is not None:  # stopped by its budget: what it paid for
            results = {k: v for k, v in watch.outputs.items() if k != ANSWER_NODE}
        if result is not None:
            results = {
                name: outcome.output
                for name, outcome in result.nodes.items()
                if name != ANSWER_NODE and outcome.state is NodeState.SUCCEEDED
            }
        return Answer(
            answer=result.outputs.get(ANSWER_NODE) if result is not None and result.ok else None,
            run_id=run_id,
            state=result.state if result is not None else RunState.CANCELLED,
            error=answer_error(result, stopped),
            plan=plan,
            routes={c.subtask: c.action for c in choices if c.action is not None},
            decisions={c.subtask: c.decision for c in choices},
            results=results,
            usage=usage,
            planner_usage=planner_usage,
            plan_failures=failures,
            questions=questions_of(result),
            duration_s=time.time() - started,
        )

    async def _learn(
        self,
        task: str,
        plan: Plan,
        choices: list[RouteChoice],
        answer: Answer,
        result: RunResult | None,
        recall: Recall | None = None,
    ) -> None:
        if result is not None:
            learnt = teach_router(self.router, choices, result)
            answer.notes += await remember("recording routing outcomes", learnt)
        reused = recall.record if recall is not None else None
        experience = experience_of(task, plan, answer, result, reused=reused)
        answer.notes += await remember("recording in memory", self.experience.record(experience))

    async def _run_fixed(
        self,
        task: str,
        workflow: Workflow | WorkflowSpec | str | Path,
        run_id: str,
        started: float,
        unstarted: UnstartedRun,
    ) -> Answer:
        """Run a given workflow on the task (``fixed_ask``)."""
        unstarted.stage = "compile"
        # a copy: preparing a builder registers its own actions, which must not
        # leak into the orchestrator's registry for later asks
        prepared = compile_workflow(workflow, self.registry.merged(ActionRegistry()))
        # capability nodes are resolved by this orchestrator's router, among its agents
        prepared = bind_resolver(prepared, router=self.router)
        inputs = task_inputs(prepared, task)
        unstarted.executing = True
        # its budget, journaled, holds across a resume of the run too (``workflow_ask``)
        keep = (
            [workflow_ask.saving(self.journal, run_id, task, self.budget)] if self.journal else []
        )
        result, stopped, usage, watch = await self._execute(prepared, inputs, run_id, Usage(), keep)
        return fixed_answer(prepared, run_id, started, result, stopped, usage, watch)
