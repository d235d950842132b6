"""The first model call imports ``openai`` off the event loop.

The import takes 1-4 s of CPU on a busy machine (measured 1.6 s idle, 3.8 s
loaded); made on the loop, it held every other node and fired a 3 s node
timeout at 4 s. A fresh interpreter, since this one has imported it already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading

    import weft
    from weft.agents import LLMAgent
    from weft.testing import OpenAIServer, ScriptedModel, text

    imported_on = []

    class Watch:
        # finds nothing; notes which thread looked for openai (every import does)

        def find_spec(self, name, path=None, target=None):
            if name == "openai":
                imported_on.append(threading.current_thread() is threading.main_thread())
            return None

    async def main():
        assert "openai" not in sys.modules
        sys.meta_path.insert(0, Watch())
        async with OpenAIServer(ScriptedModel([text("hi")])) as server:
            agent = LLMAgent("a", base_url=server.base_url, model="m")
            result = await weft.run_workflow(agent, {"task": "hello"}, record=False)
        print(result.state.value, imported_on)

    asyncio.run(main())
    """
)


def test_the_first_model_call_imports_openai_in_a_worker_thread() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["succeeded", "[False]"], done.stdout + done.stderr
