"""A Python-built workflow's errors name the file and line of the builder call at fault.

YAML errors said ``wf.yaml:6:13, node 'b', field 'after': ...``; the same mistake
made with the builder said only ``node 'b', field 'after': ...``, and the user had
to search the file for the call. Each test writes a real ``wf.py`` and runs the
real CLI (``weft validate``, ``weft run``) from the file's folder, as a user would,
and checks the whole error line: file, line of the call, node, field, message.
"""

from __future__ import annotations

import pickle
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.protocols import DefinitionError
from weft.workflows import Workflow

HEAD = '''\
from weft import Workflow


def upper(text: str) -> str:
    """Shout."""
    return text.upper()


'''


def _write(folder: Path, body: str) -> tuple[Path, dict[str, int]]:
    """``wf.py`` of HEAD + ``body``, and the line of each ``# @name`` marker in it."""
    text = HEAD + body
    lines = {
        line.split("# @", 1)[1].strip(): number
        for number, line in enumerate(text.splitlines(), start=1)
        if "# @" in line
    }
    path = folder / "wf.py"
    path.write_text(text)
    return path, lines


def _errors(folder: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> list[str]:
    """The error lines of ``weft ARGV wf.py`` run in ``folder`` (exit status 2, no traceback)."""
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, [*argv, "wf.py"], env={"WEFT_HOME": str(folder / "home")})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.stderr.strip().removeprefix("error: ").splitlines()


@pytest.mark.parametrize("command", [("validate",), ("run",)])
def test_an_unknown_node_in_after_names_the_node_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        'workflow.node("b", upper, after=["aa"])  # @b\n',
    )
    assert _errors(tmp_path, monkeypatch, *command) == [
        f"wf.py:{line['b']}, node 'b', field 'after': "
        "edge from unknown node 'aa' (did you mean 'a'?)"
    ]


@pytest.mark.parametrize("command", [("validate",), ("run",)])
def test_a_bad_argument_reference_names_the_node_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        'workflow.node("b", upper, after=[a], with_={"text": "${nope.text}"})  # @b\n',
    )
    assert _errors(tmp_path, monkeypatch, *command) == [
        f"wf.py:{line['b']}, node 'b', field 'with.text': "
        "'${nope.text}': unknown name 'nope'; visible here: a, inputs, iteration, input"
    ]


@pytest.mark.parametrize("command", [("validate",), ("run",)])
def test_an_unknown_action_names_the_node_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    # found when the engine resolves the actions, after the builder is done
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        'workflow.node("b", "uper", after=[a])  # @b\n',
    )
    assert _errors(tmp_path, monkeypatch, *command) == [
        f"wf.py:{line['b']}, node 'b', field 'action': unknown action 'uper' "
        "(did you mean 'upper'?)"
    ]


@pytest.mark.parametrize("command", [("validate",), ("run",)])
def test_a_repeated_node_names_both_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})  # @first\n'
        'workflow.node("a", upper, after=[a])  # @again\n',
    )
    assert _errors(tmp_path, monkeypatch, *command) == [
        f"wf.py:{line['again']}, node 'a': node 'a' is already defined in workflow 'demo' "
        f"(first at wf.py:{line['first']})"
    ]


def test_an_edge_names_its_own_call_not_its_target_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        'b = workflow.node("b", upper, with_={"text": "hi"})\n'
        "workflow.edge(a, b)\n"
        'workflow.edge("q", b)  # @unknown\n'
        'workflow.edge(a, b, when="output ==== 2")  # @when\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['unknown']}, node 'b', field 'after': edge from unknown node 'q'",
        f"wf.py:{line['when']}, node 'b', field 'after': 'a' appears more than once in 'after'",
        f"wf.py:{line['when']}, node 'b', field 'after.2.when': "
        "condition 'output ==== 2': invalid syntax at column 10",
    ]


def test_a_call_through_a_helper_names_the_line_that_calls_the_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        "def step(wf, name, after):\n"
        '    return wf.node(name, upper, after=after, with_={"text": "x"})\n'
        "\n"
        "\n"
        'workflow = Workflow("demo")\n'
        'a = step(workflow, "a", [])\n'
        'step(workflow, "b", ["zz"])  # @b\n'
        'step(workflow, "c", [a])\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['b']}, node 'b', field 'after': edge from unknown node 'zz'"
    ]


def test_a_helper_in_another_module_names_the_line_in_wf_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"helpers_{uuid.uuid4().hex[:10]}"  # a module stays in sys.modules
    (tmp_path / f"{module}.py").write_text(
        "def step(wf, name, action, after):\n    return wf.node(name, action, after=after)\n"
    )
    _, line = _write(
        tmp_path,
        f"from {module} import step\n"
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        'step(workflow, "b", "uper", [a])  # @b\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['b']}, node 'b', field 'action': unknown action 'uper' "
        "(did you mean 'upper'?)"
    ]


def test_a_workflow_written_in_a_function_names_the_line_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        "def build() -> Workflow:\n"
        '    wf = Workflow("demo")\n'
        '    wf.node("a", upper, with_={"text": "hi"})\n'
        '    wf.node("b", upper, after=["nope"])  # @b\n'
        "    return wf\n"
        "\n"
        "\n"
        "workflow = build()\n",
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['b']}, node 'b', field 'after': edge from unknown node 'nope'"
    ]


def test_a_call_over_several_lines_names_its_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'a = workflow.node("a", upper, with_={"text": "hi"})\n'
        "workflow.node(  # @b\n"
        '    "b",\n'
        "    upper,\n"
        "    after=[a],\n"
        '    with_={"text": "${a}"},\n'
        "    timeout=-1,\n"
        ")\n",
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['b']}, node 'b', field 'timeout': input should be greater than 0 (got -1)"
    ]


def test_nodes_made_in_a_loop_each_name_the_loop_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'workflow.node("a", upper, with_={"text": "hi"})\n'
        "for name in ('b', 'c'):\n"
        '    workflow.node(name, upper, after=["zz"])  # @loop\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['loop']}, node '{name}', field 'after': edge from unknown node 'zz'"
        for name in ("b", "c")
    ]


def test_an_output_and_an_input_name_their_own_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        'workflow = Workflow("demo")\n'
        'workflow.input("topic", type="string")\n'
        'workflow.node("a", upper, with_={"text": "${inputs.topc}"})  # @a\n'
        'workflow.output("final", "${aa}")  # @out\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['a']}, node 'a', field 'with.text': '${{inputs.topc}}': unknown input "
        "'topc' (did you mean 'topic'?); declared inputs: topic",
        f"wf.py:{line['out']}, field 'outputs.final': output 'final': '${{aa}}' names no node "
        "(did you mean 'a'?); outputs may refer to any node or to inputs",
    ]


def test_a_generated_topology_names_the_generate_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # weft's generator adds the nodes, for the user's one line
    _, line = _write(
        tmp_path,
        'from weft.workflows import generate\nworkflow = generate("chain", 2, "uper")  # @gen\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['gen']}, node '{name}', field 'action': unknown action 'uper'"
        for name in ("n0", "n1")
    ]


def test_a_node_added_to_a_generated_topology_names_its_own_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, line = _write(
        tmp_path,
        "from weft.workflows import generate\n"
        "workflow = generate('chain', 2, upper)\n"
        'workflow.node("extra", upper, after=["n9"])  # @extra\n',
    )
    assert _errors(tmp_path, monkeypatch, "validate") == [
        f"wf.py:{line['extra']}, node 'extra', field 'after': "
        "edge from unknown node 'n9' (did you mean 'n0' or 'n1'?)",
    ]


def _shout(text: str) -> str:
    """Shout."""
    return text.upper()


def test_the_problem_location_holds_the_file_and_line() -> None:
    # in Python (no CLI): ``DefinitionError.problems`` carry them as data
    wf = Workflow("demo")
    wf.node("a", _shout, with_={"text": "hi"})
    line = sys._getframe().f_lineno + 1
    wf.node("b", _shout, after=["zz"])
    with pytest.raises(DefinitionError) as caught:
        wf.build()
    [(message, where)] = caught.value.problems
    assert message == "edge from unknown node 'zz'"
    assert where.file is not None and Path(where.file).resolve() == Path(__file__).resolve()
    assert (where.line, where.node, where.field) == (line, "b", "after")


def test_a_pickled_builder_keeps_its_lines() -> None:
    wf = Workflow("demo")
    line = sys._getframe().f_lineno + 1
    wf.node("b", _shout, after=["zz"])
    copy = pickle.loads(pickle.dumps(wf))
    with pytest.raises(DefinitionError) as caught:
        copy.build()
    [(_, where)] = caught.value.problems
    assert where.line == line
