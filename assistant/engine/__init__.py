"""llama.cpp engine: GGUF inspection, chat formatting, sampling and the low-level decode loop."""

from assistant.engine.chat_format import FormattedPrompt, Message
from assistant.engine.engine import Engine, LoadSettings
from assistant.engine.gguf_info import ModelInfo, read_model_info
from assistant.engine.sampling import GREEDY, PRESETS, SamplingParams

__all__ = [
    "GREEDY",
    "PRESETS",
    "Engine",
    "FormattedPrompt",
    "LoadSettings",
    "Message",
    "ModelInfo",
    "SamplingParams",
    "read_model_info",
]
