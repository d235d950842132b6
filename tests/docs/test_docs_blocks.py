"""The code blocks of docs/*.md and README.md are what weft accepts today.

Users copy from the pages; a block that drifted from the code fails for them,
not for us. Every fenced block is read from the pages themselves and checked
without running anything (a few seconds for all of them):

- ```` ```yaml ````: parsed by weft's YAML loader. A block with a top-level
  ``nodes:`` is a whole workflow: it loads as one and passes ``validate``
  (graph, references, conditions; actions are not resolved, as the pages
  name tools they do not show), and the JSON Schema ``weft schema`` prints
  for editors accepts it. A block that is part of a workflow (its
  top-level keys are workflow fields, e.g. an ``actions:`` section; or nodes;
  or the fields of one node) is loaded inside a minimal workflow, so a
  misspelt or retired field fails. A trust list (``allow:``) loads as one.
- ```` ```python ````: compiles (top-level ``await`` is allowed: many blocks
  are lines of an async function); every ``from weft... import X`` and every
  ``weft.X`` exists, the keyword arguments given to weft's functions and
  classes are ones they take, and so are the methods called on the weft
  objects the block makes (``wf = weft.Workflow(...)``, then ``wf.node(...)``).
- ```` ```bash ````, ```` ```sh ````, ```` ```console ```` (and ``$ ``
  lines of plain blocks, which show a session): every ``weft ...`` command
  is parsed by the real CLI parser: its subcommands, options, option values
  with choices, and the number of arguments.

A block that is deliberately not whole (a workflow with parts left out) is
marked by an HTML comment on the line before its fence, which the rendered
page does not show::

    <!-- fragment -->
    ```yaml

Then only its YAML syntax (or Python syntax) is checked.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cli_tree import parse_problem
from jsonschema import Draft202012Validator

from weft.protocols import DefinitionError, WorkflowSpec, workflow_json_schema
from weft.protocols.workflow import NodeSpec
from weft.runtime.remote.trust import TrustFile
from weft.workflows import loads_workflow, loads_yaml, validate

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FRAGMENT = "<!-- fragment -->"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<lang>[\w-]*)")
SHELL = {"bash", "sh", "console", "shell"}


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language word, its text (de-indented)."""

    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    fragment: bool

    @property
    def file(self) -> str:
        """The page as the repository names it (``docs/yaml.md``)."""
        page = self.page.resolve()
        return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def blocks_of(page: Path) -> Iterator[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        before = next((ln.strip() for ln in reversed(lines[:index]) if ln.strip()), "")
        body = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            text = lines[index]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            index += 1
        start = index - len(body)  # the fence's 1-based line number
        yield Block(page, start, opening["lang"], "\n".join(body) + "\n", before == FRAGMENT)
        index += 1


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def of(*langs: str) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in BLOCKS if b.lang in langs]


def test_the_pages_have_the_blocks_this_test_reads() -> None:
    """A change in how fences are read would otherwise pass by checking nothing."""
    count = {lang: sum(b.lang == lang for b in BLOCKS) for lang in ("yaml", "python", "bash")}
    assert count["yaml"] >= 30 and count["python"] >= 45 and count["bash"] >= 30, count


# ---------------------------------------------------------------- YAML

WORKFLOW_FIELDS = {f.alias or name for name, f in WorkflowSpec.model_fields.items()}
NODE_FIELDS = {f.alias or name for name, f in NodeSpec.model_fields.items()}
TRUST_FIELDS = set(TrustFile.model_fields)
SCHEMA = Draft202012Validator(workflow_json_schema())


def _indented(text: str, by: str) -> str:
    return "".join(by + line if line.strip() else line for line in text.splitlines(True))


def _load_around(block: Block, around: str, text: str) -> None:
    """Load ``around`` + ``text`` as a workflow, lines padded so that an error in the
    block's own lines names the line of the page."""
    padding = "\n" * max(block.line - around.count("\n"), 0)
    loads_workflow(padding + around + text, block.file)


def _check_workflow_part(block: Block, data: dict[str, Any]) -> None:
    """Load a part of a workflow inside the smallest workflow around it."""
    keys = set(data)
    if "nodes" in keys:  # padded so that an error names the line of the page
        validate(loads_workflow("\n" * block.line + block.text, block.file))
        schema_errors = [
            f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in SCHEMA.iter_errors(data)
        ]
        assert not schema_errors, (
            f"{block.where}: loads, but `weft schema` (what an editor checks) refuses it: "
            + "; ".join(schema_errors)
        )
    elif keys <= WORKFLOW_FIELDS:
        around = "" if "name" in keys else "name: fragment\n"
        _load_around(block, around, block.text + "nodes: {stub: {action: stub}}\n")
    elif keys <= TRUST_FIELDS:
        TrustFile.model_validate(data)
    elif keys <= NODE_FIELDS:
        action = "" if "action" in keys or "capability" in keys else "    action: stub\n"
        around = "name: fragment\nnodes:\n  node:\n" + action
        _load_around(block, around, _indented(block.text, "    "))
    elif all(isinstance(value, dict) for value in data.values()):
        _load_around(block, "name: fragment\nnodes:\n", _indented(block.text, "  "))
    else:
        pytest.fail(
            f"{block.where}: a yaml block that is neither a workflow, a part of one, nor a "
            f"trust list (top-level keys {sorted(keys)}); mark it with {FRAGMENT} if it is "
            "meant to be shown only"
        )


@pytest.mark.parametrize("block", of("yaml", "yml"))
def test_a_yaml_block_loads_as_what_it_shows(block: Block) -> None:
    data = loads_yaml("\n" * block.line + block.text, block.file)
    if block.fragment or data is None:  # a fragment, or only comments
        return
    assert isinstance(data, dict), f"{block.where}: a yaml block that is not a mapping"
    try:
        _check_workflow_part(block, data)
    except (DefinitionError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        pytest.fail(f"{block.where}: the block is refused:\n{exc}")


# ---------------------------------------------------------------- Python


def _names(tree: ast.AST, where: str) -> tuple[dict[str, Any], list[str]]:
    """What the block's weft imports bind, and the problems of those that do not exist."""
    bound: dict[str, Any] = {}
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "weft":
                    try:
                        module = importlib.import_module(alias.name)
                    except ImportError as exc:
                        problems.append(f"{where}: import {alias.name}: {exc}")
                        continue
                    bound[alias.asname or alias.name] = module
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "weft":
            assert node.module is not None
            try:
                module = importlib.import_module(node.module)
            except ImportError as exc:
                problems.append(f"{where}: from {node.module} import ...: {exc}")
                continue
            for alias in node.names:
                if hasattr(module, alias.name):
                    bound[alias.asname or alias.name] = getattr(module, alias.name)
                else:
                    problems.append(f"{where}: {node.module} has no {alias.name!r}")
    return bound, problems


def _target(func: ast.expr, bound: dict[str, Any]) -> tuple[str, Any] | None:
    """The weft object a call calls, when the block names it (``X(...)``, ``weft.X(...)``)."""
    if isinstance(func, ast.Name) and func.id in bound:
        return func.id, bound[func.id]
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = bound.get(func.value.id)
        if isinstance(owner, ModuleType):
            return f"{func.value.id}.{func.attr}", getattr(owner, func.attr, None)
    return None


def _made_by(value: ast.expr, bound: dict[str, Any], made: dict[str, type]) -> type | None:
    """The weft class whose instance ``value`` is, when the block makes it plainly:
    ``weft.Workflow(...)``, ``await weft.from_mcp_async(...)`` (by the return
    annotation), or a name bound so before."""
    if isinstance(value, ast.Await):
        value = value.value
    if isinstance(value, ast.Name):
        return made.get(value.id)
    if not isinstance(value, ast.Call):
        return None
    target = _target(value.func, bound)
    if target is None:
        return None
    if inspect.isclass(target[1]):
        return target[1]
    try:
        returned = typing.get_type_hints(target[1]).get("return")
    except Exception:  # an annotation that does not resolve here: no claim made
        return None
    # ``Any`` is a class since Python 3.11, and claims nothing about what is returned
    return returned if inspect.isclass(returned) and returned is not Any else None


def _instances(tree: ast.AST, bound: dict[str, Any]) -> dict[str, type]:
    """Names the block binds to weft objects (``wf = weft.Workflow(...)``,
    ``async with MqttBus(url) as bus``), in the order the block binds them."""
    made: dict[str, type] = {}
    for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                pairs.append((node.targets[0].id, node.value))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    pairs.append((item.optional_vars.id, item.context_expr))
        for name, value in pairs:
            cls = _made_by(value, bound, made)
            if cls is not None:
                made[name] = cls
            else:
                made.pop(name, None)
    return made


def _called(node: ast.Call, bound: dict[str, Any], made: dict[str, type]) -> tuple[str, Any]:
    """What a call calls, as the block names it: a weft function or class, or a method
    of a weft object; ``("", None)`` for anything else, and the missing name as
    ``(name, None)`` for a method the object does not have."""
    target = _target(node.func, bound)
    if target is not None:
        return target
    func = node.func
    if not isinstance(func, ast.Attribute):
        return "", None
    cls = _made_by(func.value, bound, made)
    if cls is None:
        return "", None
    method = getattr(cls, func.attr, None)
    declared = {*getattr(cls, "model_fields", {}), *getattr(cls, "__annotations__", {})}
    if method is None and func.attr not in declared:
        return f"{cls.__name__}.{func.attr}", None
    return f"{cls.__name__}.{func.attr}", method


def _keyword_problems(tree: ast.AST, bound: dict[str, Any], where: str) -> Iterator[str]:
    made = _instances(tree, bound)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = bound.get(node.value.id)
            if isinstance(owner, ModuleType) and not hasattr(owner, node.attr):
                yield f"{where}: {node.value.id}.{node.attr} does not exist"
        if not isinstance(node, ast.Call):
            continue
        name, called = _called(node, bound, made)
        if name and called is None and "." in name and not name.startswith(_module_names(bound)):
            yield f"{where}: {name} does not exist"
        if not callable(called):
            continue
        try:
            parameters = inspect.signature(called).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            continue
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            continue
        for keyword in node.keywords:
            if keyword.arg is not None and keyword.arg not in parameters:
                yield f"{where}: {name}() takes no keyword {keyword.arg!r}"


def _module_names(bound: dict[str, Any]) -> tuple[str, ...]:
    """``weft.``-style prefixes: a missing module attribute is reported once, above."""
    return tuple(f"{n}." for n, v in bound.items() if isinstance(v, ModuleType)) or ("\0",)


@pytest.mark.parametrize("block", of("python"))
def test_a_python_block_compiles_and_names_what_weft_has(block: Block) -> None:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        tree = compile(block.text, block.where, "exec", flags=flags)
    except SyntaxError as exc:
        pytest.fail(f"{block.where}: line {exc.lineno} of the block: {exc.msg}")
    if block.fragment:
        return
    bound, problems = _names(tree, block.where)
    problems.extend(_keyword_problems(tree, bound, block.where))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- shell

OPERATORS = {"&&", "||", "|", ";", "&", "(", ")", "$(", "`"}


def _logical_lines(block: Block) -> Iterator[str]:
    """Its command lines: continuations joined; a console's or plain block's ``$ `` lines."""
    prompt_only = block.lang in {"console", ""}
    pending = ""
    for raw in block.text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("$ "):
            yield line[2:]
        elif not prompt_only:
            yield line


def _weft_commands(line: str) -> Iterator[list[str]]:
    """The words after ``weft`` of each ``weft`` command of a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote: not a command line
        return
    command: list[str] = []
    for word in [*words, ";"]:
        if word in OPERATORS or set(word) <= set("<>&|;()"):
            if command and command[0] == "weft":
                yield _without_redirections(command[1:])
            command = []
        elif command or not re.fullmatch(r"\w+=.*", word):  # VAR=value before the command
            command.append(word)


def _without_redirections(words: list[str]) -> list[str]:
    return [w for w in words if not re.fullmatch(r"\d?>>?.*|<.*", w)]


def _shell_problems(block: Block) -> Iterator[str]:
    for line in _logical_lines(block):
        for words in _weft_commands(line):
            if any(w.startswith("[") for w in words):
                continue  # a synopsis (`[--flag VALUE]`), not a command
            problem = parse_problem(words)
            if problem is not None:
                yield f"{block.where}: `weft {' '.join(words)}`: {problem}"


@pytest.mark.parametrize("block", of(*SHELL, ""))
def test_a_weft_command_in_a_shell_block_parses(block: Block) -> None:
    problems = list(_shell_problems(block))
    assert not problems, "\n".join(problems)


def test_commands_are_found_in_the_lines_a_user_types() -> None:
    """The shell reading above sees through prompts, variables, pipes and redirections."""
    block = Block(
        ROOT / "README.md",
        1,
        "console",
        "$ KEY=$(cat k) weft run a.yaml -i x=1 --json > out.json && weft trace ls | head\n"
        "weft not-a-prompt-line\n$ weft broker \\\n  --config-only  # a comment\n",
        False,
    )
    found = [w for line in _logical_lines(block) for w in _weft_commands(line)]
    assert found == [
        ["run", "a.yaml", "-i", "x=1", "--json"],
        ["trace", "ls"],
        ["broker", "--config-only"],
    ]


def test_the_python_check_finds_a_retired_name_and_a_wrong_keyword() -> None:
    text = (
        "import weft\nfrom weft import tool, no_such_name\n"
        "agent = weft.LLMAgent('a', instruction='typo')\nweft.no_such_function()\n"
    )
    tree = compile(text, "x", "exec", flags=ast.PyCF_ONLY_AST)
    bound, problems = _names(tree, "x")
    problems.extend(_keyword_problems(tree, bound, "x"))
    assert problems == [
        "x: weft has no 'no_such_name'",
        "x: weft.LLMAgent() takes no keyword 'instruction'",
        "x: weft.no_such_function does not exist",
    ]


def test_a_refused_workflow_field_is_reported_at_its_line_of_the_page() -> None:
    text = "name: w\nnodes:\n  a:\n    action: x\n    retries: 3\n"
    block = Block(ROOT / "docs" / "page.md", 40, "yaml", text, False)
    with pytest.raises(DefinitionError, match=r"docs/page\.md:45:5, node 'a', field 'retries'"):
        _check_workflow_part(block, loads_yaml(text))


def test_a_part_of_a_workflow_is_checked_inside_one() -> None:
    """An `actions:` section alone, or one node, still has its fields checked."""
    page = ROOT / "docs" / "page.md"
    section = Block(page, 20, "yaml", "actions:\n  a: {pythn: 'm:f'}\n", False)
    with pytest.raises(DefinitionError, match=r"docs/page\.md:22:.*pythn"):
        _check_workflow_part(section, loads_yaml(section.text))
    node = Block(page, 20, "yaml", "n:\n  action: a\n  aftr: b\n", False)
    with pytest.raises(DefinitionError, match=r"docs/page\.md:23:.*aftr"):
        _check_workflow_part(node, loads_yaml(node.text))
    fields = Block(page, 20, "yaml", "after:\n  - {nod: a}\n", False)
    with pytest.raises(DefinitionError, match=r"docs/page\.md:22:.*nod"):
        _check_workflow_part(fields, loads_yaml(fields.text))


def test_the_python_check_follows_a_weft_object_to_its_methods() -> None:
    text = (
        "import weft\nwf = weft.Workflow('w')\n"
        "wf.node('a', 'x', with_={}, afterr='b')\nwf.nodes_of('b')\nwf.edge('a', 'b', when='x')\n"
    )
    tree = compile(text, "x", "exec", flags=ast.PyCF_ONLY_AST)
    bound, _ = _names(tree, "x")
    assert sorted(_keyword_problems(tree, bound, "x")) == [
        "x: Workflow.node() takes no keyword 'afterr'",
        "x: Workflow.nodes_of does not exist",
    ]
