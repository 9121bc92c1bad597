"""llama.cpp engine: GGUF inspection, chat formatting, sampling and the low-level decode loop.

The public names are imported on first use (PEP 562): reading a GGUF header (``read_model_info``) or
building a ``Message`` does not load llama.cpp, so commands that never run a model start faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.lazy import lazy_exports

if TYPE_CHECKING:
    from assistant.engine.chat_format import FormattedPrompt, Message
    from assistant.engine.engine import Engine, LoadSettings
    from assistant.engine.gguf_info import ModelInfo, read_model_info
    from assistant.engine.sampling import GREEDY, PRESETS, SamplingParams
    from assistant.engine.speculative import SpeculativeParams

#: public name -> the submodule that defines it
_EXPORTS = {
    "FormattedPrompt": "chat_format",
    "Message": "chat_format",
    "Engine": "engine",
    "LoadSettings": "engine",
    "ModelInfo": "gguf_info",
    "read_model_info": "gguf_info",
    "GREEDY": "sampling",
    "PRESETS": "sampling",
    "SamplingParams": "sampling",
    "SpeculativeParams": "speculative",
}

__all__ = [
    "GREEDY",
    "PRESETS",
    "Engine",
    "FormattedPrompt",
    "LoadSettings",
    "Message",
    "ModelInfo",
    "SamplingParams",
    "SpeculativeParams",
    "read_model_info",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
