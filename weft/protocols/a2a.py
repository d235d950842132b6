"""weft's actions and capability cards as A2A (Agent2Agent 1.0) agent cards, and back.

A2A describes an agent with one ``AgentCard`` listing its *skills* (id,
name, description, tags, examples); weft describes each action with an
``ActionSpec`` and a ``CapabilityCard``. Here one weft action is one A2A
skill, and a set of actions (an agent process, a served registry) is one
A2A agent card. Everything is plain JSON in A2A's proto-JSON shape
(camelCase keys, as ``a2a-sdk``'s ``MessageToDict`` writes them), so this
module needs no SDK: ``weft.runtime.interop.a2a_validate`` checks the result
against the SDK's own ``AgentCard`` type.

What maps to what (docs/interop.md has the table):

- action name -> skill ``id`` and ``name``; the card's description (else the
  action's) -> skill ``description``;
- capability ``tags`` then ``skills`` -> skill ``tags`` (A2A requires at least
  one: the action's kind when both are empty); ``examples`` -> ``examples``;
- what A2A has no field for (``not_skills``, cost, latency, concurrency, the
  card version, the split between tags and skills, input and output JSON
  Schemas) rides in one agent extension, ``WEFT_ACTIONS_EXTENSION``, which A2A
  lets clients ignore and which a weft reader uses to restore every field.

Reading a foreign card (no weft extension): each skill becomes an action spec
whose capability card has the skill's description, its tags as ``skills``
(they describe what it can do; weft's ``tags`` are policy labels a router
filters on, which a foreign card cannot know) and its examples.

The message mapping is here too (``value_to_parts``, ``parts_to_value``):
a ``text`` string is a text part, the other keys of an object one data part.
So is what a stream of task events adds up to (``TaskStream``), and how a
weft progress report rides in a ``working`` status message (``progress_message``,
``progress_of``): its text a text part, its fraction and data in the
message's ``metadata.weftProgress``, which foreign clients may ignore.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from weft.protocols.actions import (
    NEEDS_INPUT_TYPE,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    ErrorInfo,
)
from weft.protocols.capability import CapabilityCard
from weft.protocols.human_input import question_of
from weft.protocols.remote import AgentCard

#: The A2A protocol version weft's cards and servers speak.
A2A_PROTOCOL_VERSION = "1.0"
#: A2A's own binding names (``AgentInterface.protocolBinding``).
JSONRPC_BINDING = "JSONRPC"
#: The binding label EMQX's A2A-over-MQTT reference SDK puts in ``supportedInterfaces``.
MQTT_JSONRPC_BINDING = "MQTTv5+JSONRPCv2"
#: weft's own MQTT protocol (docs/protocol.md), for cards of native weft agents.
WEFT_MQTT_BINDING = "urn:weft:protocol:mqtt:1"
#: Agent extension carrying what A2A has no field for: ``params.actions`` by skill id.
WEFT_ACTIONS_EXTENSION = "urn:weft:a2a:actions:1"
#: Media types weft actions read and write: a ``text`` string, and JSON data.
DEFAULT_MODES = ("text/plain", "application/json")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def a2a_skill(spec: ActionSpec) -> dict[str, Any]:
    """The A2A ``AgentSkill`` (JSON) for one weft action."""
    card = spec.card
    description = (card.description if card is not None else "") or spec.description or spec.name
    tags = _unique([*(card.tags if card else []), *(card.skills if card else [])])
    skill: dict[str, Any] = {
        "id": spec.name,
        "name": spec.name,
        "description": description,
        "tags": tags or [spec.kind.value],
    }
    if card is not None and card.examples:
        skill["examples"] = list(card.examples)
    return skill


def _extension_entry(spec: ActionSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": spec.version,
        "kind": spec.kind.value,
        "description": spec.description,
        "input_schema": spec.input_schema,
    }
    if spec.output_schema:
        entry["output_schema"] = spec.output_schema
    if spec.card is not None:
        entry["card"] = spec.card.model_dump(mode="json", exclude_none=True)
    return entry


def a2a_interface(
    url: str, binding: str = JSONRPC_BINDING, *, version: str = A2A_PROTOCOL_VERSION
) -> dict[str, Any]:
    """One ``AgentInterface``: where and how the agent is reached."""
    return {"url": url, "protocolBinding": binding, "protocolVersion": version}


def a2a_agent_card(
    name: str,
    specs: Sequence[ActionSpec],
    *,
    interfaces: Sequence[Mapping[str, Any]],
    description: str | None = None,
    version: str = "1",
    extensions: Sequence[Mapping[str, Any]] = (),
    streaming: bool = False,
    push_notifications: bool = False,
) -> dict[str, Any]:
    """The A2A ``AgentCard`` (JSON) of an agent serving ``specs``, one skill each.

    ``streaming`` and ``push_notifications`` are the card's ``capabilities``:
    say them only of a server that serves them.

    ``description`` defaults to the only action's description, else a list
    of the actions. ``interfaces`` come from ``a2a_interface``; A2A requires
    at least one, and ``ValueError`` says so when there is none.
    """
    if not interfaces:
        raise ValueError(f"the A2A card of {name!r} needs at least one interface (a URL)")
    if description is None:
        only = specs[0] if len(specs) == 1 else None
        description = (only and (only.description or (only.card and only.card.description))) or (
            f"weft agent serving {', '.join(s.name for s in specs)}" if specs else name
        )
    ours = {
        "uri": WEFT_ACTIONS_EXTENSION,
        "description": "weft action specs and capability cards, by skill id",
        "required": False,
        "params": {"actions": {spec.name: _extension_entry(spec) for spec in specs}},
    }
    return {
        "name": name,
        "description": description,
        "version": version,
        "supportedInterfaces": [dict(i) for i in interfaces],
        "capabilities": {
            "streaming": streaming,
            "pushNotifications": push_notifications,
            "extensions": [ours, *(dict(e) for e in extensions)],
        },
        "defaultInputModes": list(DEFAULT_MODES),
        "defaultOutputModes": list(DEFAULT_MODES),
        "skills": [a2a_skill(spec) for spec in specs],
    }


def capability_to_a2a(
    card: CapabilityCard, *, interfaces: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A capability card alone as an A2A agent card with one skill, ``card.agent_id``."""
    spec = ActionSpec(
        name=card.agent_id, kind=ActionKind.AGENT, description=card.description, card=card
    )
    return a2a_agent_card(card.agent_id, [spec], interfaces=interfaces, version=str(card.version))


def weft_agent_to_a2a(card: AgentCard, *, broker_url: str, namespace: str) -> dict[str, Any]:
    """The A2A card of an agent process serving on weft's own MQTT protocol.

    Its interface is the broker with ``WEFT_MQTT_BINDING``; the topics, pools
    and status a weft caller needs ride in an extension of that URI.
    """
    native = {
        "uri": WEFT_MQTT_BINDING,
        "description": "weft's MQTT protocol: where calls reach this agent (docs/protocol.md)",
        "required": False,
        "params": {
            "namespace": namespace,
            "topic": card.topic,
            "pools": dict(card.pools),
            "status": card.status.value,
        },
    }
    return a2a_agent_card(
        card.agent_id,
        card.actions,
        interfaces=[a2a_interface(broker_url, WEFT_MQTT_BINDING)],
        version=card.weft_version or "1",
        extensions=[native],
    )


def _weft_actions(card: Mapping[str, Any]) -> dict[str, Any]:
    for extension in (card.get("capabilities") or {}).get("extensions") or []:
        if extension.get("uri") == WEFT_ACTIONS_EXTENSION:
            actions = (extension.get("params") or {}).get("actions")
            if isinstance(actions, dict):
                return actions
    return {}


def _int_version(version: Any) -> int:
    text = str(version or "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else 1


def specs_from_a2a(card: Mapping[str, Any]) -> list[ActionSpec]:
    """The action specs an A2A agent card describes, one per skill.

    A card weft wrote gives back the same specs (``WEFT_ACTIONS_EXTENSION``);
    a foreign card gives specs of kind ``agent`` with capability cards built
    from its skills (module docstring). ``ValueError`` for a skill without id.
    """
    ours = _weft_actions(card)
    agent = str(card.get("name") or "a2a-agent")
    specs = []
    for skill in card.get("skills") or []:
        skill_id = skill.get("id")
        if not skill_id:
            raise ValueError(f"A2A card {agent!r}: a skill without an 'id'")
        entry = ours.get(skill_id)
        if isinstance(entry, dict):
            specs.append(ActionSpec.model_validate({"name": skill_id, **entry}))
            continue
        description = str(skill.get("description") or skill.get("name") or skill_id)
        specs.append(
            ActionSpec(
                name=skill_id,
                kind=ActionKind.AGENT,
                description=description,
                card=CapabilityCard(
                    agent_id=agent,
                    version=_int_version(card.get("version")),
                    description=description,
                    skills=_unique(str(t) for t in skill.get("tags") or []),
                    examples=[str(e) for e in skill.get("examples") or []],
                ),
            )
        )
    return specs


def capability_from_a2a(card: Mapping[str, Any]) -> CapabilityCard:
    """One capability card for a whole A2A agent (how weft routes to it as one action).

    The card of a single weft action comes back as it was written; any other
    card gives the agent's description, and as skills each skill's
    description followed by the skills' tags; examples from every skill.
    """
    specs = specs_from_a2a(card)
    if len(specs) == 1 and specs[0].card is not None and _weft_actions(card):
        return specs[0].card
    skills = card.get("skills") or []
    return CapabilityCard(
        agent_id=str(card.get("name") or "a2a-agent"),
        version=_int_version(card.get("version")),
        description=str(card.get("description") or ""),
        skills=_unique(
            [
                *(str(s.get("description") or s.get("name") or "") for s in skills),
                *(str(t) for s in skills for t in s.get("tags") or []),
            ]
        ),
        examples=_unique(str(e) for s in skills for e in s.get("examples") or []),
    )


# -- messages --------------------------------------------------------------------


def value_to_parts(value: Any) -> list[dict[str, Any]]:
    """A2A ``Part``s (JSON) carrying ``value``: arguments of a call, or an output.

    A string is one text part. An object's ``text`` string is a text part and
    its other keys one data part. Anything else is one data part.
    """
    if isinstance(value, str):
        return [{"text": value}]
    if isinstance(value, dict):
        parts: list[dict[str, Any]] = []
        rest = dict(value)
        text = rest.pop("text", None)
        if isinstance(text, str):
            parts.append({"text": text})
        elif text is not None:
            rest["text"] = text
        if rest or not parts:
            parts.append({"data": rest, "mediaType": "application/json"})
        return parts
    return [{"data": value, "mediaType": "application/json"}]


def _narrow(value: Any) -> Any:
    """Whole floats back to ints: A2A data parts are protobuf ``Value``s, all doubles."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _narrow(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_narrow(v) for v in value]
    return value


def parts_to_value(parts: Iterable[Mapping[str, Any]]) -> Any:
    """The value ``value_to_parts`` made, from A2A parts (JSON) of any sender.

    Text parts join (with newlines) into ``text``; object data parts merge
    into the same object; one lone non-object data part is the value itself.
    URL parts are listed under ``urls``; raw bytes (base64) under ``files``.
    Whole numbers in data come back as integers (A2A stores them as doubles).
    """
    texts: list[str] = []
    data: list[Any] = []
    urls: list[str] = []
    files: list[dict[str, Any]] = []
    for part in parts:
        if "text" in part:
            texts.append(str(part["text"]))
        elif "data" in part:
            data.append(_narrow(part["data"]))
        elif "url" in part:
            urls.append(str(part["url"]))
        elif "raw" in part:
            files.append({k: part[k] for k in ("raw", "filename", "mediaType") if k in part})
    if len(data) == 1 and not isinstance(data[0], dict) and not (texts or urls or files):
        return data[0]
    value: dict[str, Any] = {}
    for item in data:
        value.update(item if isinstance(item, dict) else {"data": item})
    if texts:
        value.setdefault("text", "\n".join(texts))
    if urls:
        value["urls"] = urls
    if files:
        value["files"] = files
    return value


_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


def a2a_name(text: str) -> str:
    """An action name from an A2A agent's name: letters, digits, ``_ . -`` only."""
    return _SLUG.sub("_", text.strip()).strip("_") or "a2a_agent"


# -- results ---------------------------------------------------------------------

#: Metadata key of a failed task's status message: weft's ``ErrorInfo`` as JSON.
ERROR_METADATA = "weftError"
#: Metadata key of a request message that names the skill (action) to run.
SKILL_METADATA = "skill"
#: Metadata key of a ``working`` status message carrying a weft progress report.
PROGRESS_METADATA = "weftProgress"
#: ``ErrorInfo.details`` key of a ``needs_input`` result: the task to continue.
TASK_DETAILS = "a2a_task"


def task_output(task: Mapping[str, Any]) -> Any:
    """The output a task's artifacts carry (``parts_to_value`` of all their parts)."""
    parts = [p for artifact in task.get("artifacts") or [] for p in artifact.get("parts") or []]
    return parts_to_value(parts)


def _status_text(status: Mapping[str, Any]) -> str:
    message = status.get("message") or {}
    return "\n".join(str(p["text"]) for p in message.get("parts") or [] if "text" in p)


def response_result(call_id: str, response: Mapping[str, Any], *, source: str) -> ActionResult:
    """A weft result from an A2A ``SendMessage`` response (JSON: ``{"task"}`` or ``{"message"}``).

    A message, or a completed task, is ``ok`` with its parts as the output;
    a failed or rejected task an ``error`` (weft's own error when the agent
    is weft, from ``ERROR_METADATA``); canceled is ``cancelled``; a task that
    wants input or authorisation ``needs_input`` (its ``error.details.a2a_task``
    the ``taskId`` and ``contextId`` a second turn continues); a task still running (an
    agent that ignored a blocking request) an ``error`` saying so.
    """
    if "message" in response:
        return ActionResult.success(call_id, parts_to_value(response["message"].get("parts") or []))
    task = response.get("task") or {}
    status = task.get("status") or {}
    state = str(status.get("state") or "TASK_STATE_UNSPECIFIED")
    if state == "TASK_STATE_COMPLETED":
        return ActionResult.success(call_id, task_output(task))
    text = _status_text(status) or state
    if state in ("TASK_STATE_FAILED", "TASK_STATE_REJECTED"):
        weft_error = ((status.get("message") or {}).get("metadata") or {}).get(ERROR_METADATA)
        if isinstance(weft_error, dict):
            error = ErrorInfo.model_validate(weft_error)
            return ActionResult(call_id=call_id, state=ActionState.ERROR, error=error)
        return ActionResult.failure(call_id, "A2ATaskFailed", f"{source}: {text}")
    if state == "TASK_STATE_CANCELED":
        return ActionResult.failure(
            call_id, "Cancelled", f"{source}: task canceled", state=ActionState.CANCELLED
        )
    if state in ("TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"):
        resume = {"taskId": task.get("id", ""), "contextId": task.get("contextId", "")}
        asked = _weft_question(status) or {"question": text, "choices": None, "index": 0}
        error = ErrorInfo(
            type=NEEDS_INPUT_TYPE,
            message=f"{source}: {asked['question']}",
            details={**asked, TASK_DETAILS: resume},
        )
        return ActionResult(call_id=call_id, state=ActionState.NEEDS_INPUT, error=error)
    return ActionResult.failure(
        call_id, "A2ATaskNotFinished", f"{source}: task {task.get('id', '?')} is {state}"
    )


def _weft_question(status: Mapping[str, Any]) -> dict[str, Any] | None:
    """The question a weft agent asked, as its action asked it (with its choices), from the
    ``ERROR_METADATA`` of an ``input-required`` status; None from any other agent."""
    weft_error = ((status.get("message") or {}).get("metadata") or {}).get(ERROR_METADATA)
    if not isinstance(weft_error, dict):
        return None
    try:
        return question_of(ErrorInfo.model_validate(weft_error))
    except ValueError:
        return None


def answer_arguments(answer: Any) -> dict[str, Any]:
    """The arguments of the turn that sends a person's ``answer`` to an A2A task: text as a
    text part, an object as its keys, anything else as its JSON text (``answer_of``)."""
    if isinstance(answer, str):
        return {"text": answer}
    if isinstance(answer, dict):
        return dict(answer)
    return {"text": json.dumps(answer)}


def answer_of(parts: Iterable[Mapping[str, Any]], choices: Sequence[Any] | None) -> Any:
    """The answer a turn's ``parts`` carry (``answer_arguments``): a lone text is the text,
    or the JSON value it spells when that, not the text, is one of ``choices``."""
    value = parts_to_value(parts)
    if not (isinstance(value, dict) and set(value) == {"text"}):
        return value
    text = value["text"]
    if choices and text not in choices:
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        return decoded if decoded in choices else text
    return text


def error_metadata(result: ActionResult) -> dict[str, Any]:
    """The metadata of a failed task's status message: ``{ERROR_METADATA: error}``."""
    error = result.error or ErrorInfo(type="Error", message=str(result.state))
    return {ERROR_METADATA: error.model_dump(mode="json", exclude_defaults=True)}


# -- progress and streams ------------------------------------------------------


def progress_message(
    message: str, fraction: float | None = None, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The A2A agent ``Message`` (JSON) of a ``working`` status carrying one progress report.

    Any A2A client shows its text; a weft caller also reads ``fraction`` and
    ``data`` back from ``metadata.weftProgress`` (``progress_of``).
    """
    report: dict[str, Any] = {}
    if fraction is not None:
        report["fraction"] = fraction
    if data:
        report["data"] = dict(data)
    return {
        "messageId": uuid.uuid4().hex,
        "role": "ROLE_AGENT",
        "parts": [{"text": message}],
        "metadata": {PROGRESS_METADATA: report},
    }


def progress_of(status: Mapping[str, Any]) -> tuple[str, float | None, dict[str, Any]] | None:
    """The progress report a task status carries: ``(message, fraction, data)``.

    Only a ``working`` status with a message is one (an agent saying what it
    is doing); its text parts are the message, and ``metadata.weftProgress``
    (when a weft agent sent it) the fraction and data.
    """
    if status.get("state") != "TASK_STATE_WORKING" or not status.get("message"):
        return None
    message = status["message"]
    report = (message.get("metadata") or {}).get(PROGRESS_METADATA)
    report = report if isinstance(report, dict) else {}
    fraction = report.get("fraction")
    data = report.get("data")
    return (
        _status_text(status),
        float(fraction) if isinstance(fraction, int | float) else None,
        _narrow(data) if isinstance(data, dict) else {},
    )


class TaskStream:
    """What a stream of A2A events (JSON: ``task``, ``statusUpdate``, ``artifactUpdate``,
    ``message``) adds up to: the last task state with its artifacts, or a message.

    ``add`` folds one event in and returns the progress report it carries (a
    ``working`` status with a message), so a caller can pass it on as it
    arrives; ``response`` is then what a blocking ``SendMessage`` would have
    answered, for ``response_result``.
    """

    def __init__(self) -> None:
        self.task: dict[str, Any] | None = None
        self.message: dict[str, Any] | None = None

    def add(self, event: Mapping[str, Any]) -> tuple[str, float | None, dict[str, Any]] | None:
        if "message" in event:
            self.message = dict(event["message"])
            return None
        if "task" in event:
            self.task = dict(event["task"])
            return progress_of(self.task.get("status") or {})
        update = event.get("statusUpdate") or event.get("artifactUpdate")
        if not isinstance(update, Mapping):
            return None
        task = self.task if self.task is not None else {}
        task.setdefault("id", update.get("taskId", ""))
        task.setdefault("contextId", update.get("contextId", ""))
        self.task = task
        if "statusUpdate" in event:
            task["status"] = dict(update.get("status") or {})
            return progress_of(task["status"])
        self._add_artifact(task, dict(update.get("artifact") or {}), bool(update.get("append")))
        return None

    @staticmethod
    def _add_artifact(task: dict[str, Any], artifact: dict[str, Any], append: bool) -> None:
        """Keep ``artifact``, or add its parts to the one with its id (``append``).

        An appended text part continues the text part before it: a streamed answer
        comes as pieces of one text (tokens, words), so the output reads as the
        stream did (``"Oslo, " + "Friday"``), not as lines joined by
        ``parts_to_value``.
        """
        artifacts: list[dict[str, Any]] = task.setdefault("artifacts", [])
        key = artifact.get("artifactId")
        for i, held in enumerate(artifacts):
            if key and held.get("artifactId") == key:
                if append:
                    parts = [dict(p) for p in held.get("parts") or []]
                    for part in artifact.get("parts") or []:
                        if parts and "text" in parts[-1] and set(part) == {"text"}:
                            parts[-1]["text"] = f"{parts[-1]['text']}{part['text']}"
                        else:
                            parts.append(dict(part))
                    artifacts[i] = {**held, "parts": parts}
                else:
                    artifacts[i] = artifact
                return
        artifacts.append(artifact)

    def response(self) -> dict[str, Any] | None:
        """``{"message": ...}`` or ``{"task": ...}``, as a blocking send answers; ``None``
        when the stream carried neither."""
        if self.message is not None:
            return {"message": self.message}
        if self.task is not None:
            return {"task": self.task}
        return None
