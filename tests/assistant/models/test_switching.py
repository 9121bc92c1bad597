"""Switching between the two bundled models for real: answers keep working, memory returns, profiles stick."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from assistant.config import ModelSettings
from assistant.engine import GREEDY, Engine, Message, read_model_info
from assistant.errors import TruncatedModelError
from assistant.events import Done
from assistant.models import ModelSwitcher, ProfileStore

pytestmark = pytest.mark.slow


@pytest.fixture
def switcher(tmp_path: Path) -> Iterator[ModelSwitcher]:
    s = ModelSwitcher(Engine(), ProfileStore(tmp_path / "model-profiles.toml"))
    yield s
    s.engine.unload()


def _ask(engine: Engine, system: str) -> Done:
    _prompt, tokens = engine.render([Message("system", system), Message("user", "Say hello.")])
    *_tokens, done = engine.generate(tokens, GREEDY, max_tokens=8)
    assert isinstance(done, Done)
    return done


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _use(switcher: ModelSwitcher, path: Path, settings: ModelSettings, current: Path | None) -> Path:
    """What the facade does on `use_model`: switch, then adopt the incoming model's profile."""
    switched = switcher.switch(path, settings, current)
    switched.profile.apply_to(settings)
    return switched.path


def test_switching_back_and_forth_keeps_answers_memory_and_per_model_settings(
    switcher: ModelSwitcher, chat_model_path: Path, base_model_path: Path
) -> None:
    engine, settings = switcher.engine, ModelSettings(n_threads=1)  # robust on a busy 2-core machine
    current = _use(switcher, chat_model_path, settings, None)
    settings.n_ctx, settings.temperature, settings.system_prompt = 1024, 0.1, "You are Smol."  # tune SmolLM2
    current = _use(switcher, chat_model_path, settings, current)  # reload with its own settings
    assert engine.n_ctx == 1024
    assert _ask(engine, settings.system_prompt).text.strip()
    baseline = _rss()

    samples = []
    for round_ in range(3):
        current = _use(switcher, base_model_path, settings, current)
        assert engine.info.architecture == "gemma3"
        if round_ == 0:
            # never tuned: the values in use (a model added dropped the user's to the defaults, unsaid)
            assert (settings.n_ctx, settings.temperature, settings.system_prompt) == (1024, 0.1, "You are Smol.")
            settings.n_ctx, settings.system_prompt = 512, "Continue the text."  # tune Gemma
        else:
            assert (settings.n_ctx, settings.system_prompt) == (512, "Continue the text.")
        assert engine.n_ctx == (512 if round_ else 1024)
        gemma = _ask(engine, settings.system_prompt)
        assert gemma.stats.prompt_format == "fallback" and gemma.stats.prompt_tokens > 0
        assert gemma.stats.completion_tokens > 0 or gemma.stats.stop_reason == "eos"

        current = _use(switcher, chat_model_path, settings, current)
        assert (settings.n_ctx, settings.temperature, settings.system_prompt) == (1024, 0.1, "You are Smol.")
        assert engine.n_ctx == 1024 and engine.info.architecture == "llama"
        smol = _ask(engine, settings.system_prompt)
        assert smol.text.strip() and smol.stats.prompt_format == "gguf"
        samples.append(_rss())

    print(f"RSS single model {baseline / 2**20:.0f} MiB; after each round trip "
          f"{', '.join(f'{s / 2**20:.0f}' for s in samples)} MiB")
    assert abs(samples[-1] - baseline) <= 0.10 * baseline, (baseline, samples)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]


def test_after_a_switch_a_few_megabytes_come_from_the_heap_again(switcher: ModelSwitcher,
                                                                  chat_model_path: Path) -> None:
    """The mmap threshold pinned at 128 KiB for a model's load stayed so for good: every embedding batch's
    buffers were mapped and unmapped again, and the window (which switches models) indexed 1.7x slower than
    `hearth index`. glibc's count of mapped blocks says where a 4 MiB block came from."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("not glibc 2.33 or later")
    libc.mallinfo2.restype, libc.malloc.restype, libc.free.argtypes = _MallInfo2, ctypes.c_void_p, [ctypes.c_void_p]
    _use(switcher, chat_model_path, ModelSettings(n_threads=1), None)
    mapped = libc.mallinfo2().hblks
    block = libc.malloc(4 << 20)
    try:
        assert libc.mallinfo2().hblks == mapped
    finally:
        libc.free(block)


def test_a_failed_switch_keeps_the_old_model_and_says_why(
    switcher: ModelSwitcher, chat_model_path: Path, tmp_path: Path
) -> None:
    settings = ModelSettings(n_ctx=512, n_threads=1)
    current = _use(switcher, chat_model_path, settings, None)
    broken = tmp_path / "broken.gguf"
    with chat_model_path.open("rb") as src, broken.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.truncate(chat_model_path.stat().st_size // 2)
    with pytest.raises(TruncatedModelError, match="truncated"):
        switcher.switch(broken, settings, current)
    assert switcher.engine.info.path == str(chat_model_path)
    assert _ask(switcher.engine, settings.system_prompt).text.strip()


def test_inspect_both_bundled_models_and_a_truncated_copy(
    chat_model_path: Path, base_model_path: Path, tmp_path: Path
) -> None:
    smol, gemma = read_model_info(chat_model_path), read_model_info(base_model_path)
    assert (smol.architecture, smol.quantization, smol.has_chat_template) == ("llama", "Q4_1", True)
    assert (gemma.architecture, gemma.has_chat_template) == ("gemma3", False)
    assert smol.vocab_fingerprint != gemma.vocab_fingerprint  # not draft-compatible with each other
    for info in (smol, gemma):
        assert info.n_layer > 0 and info.n_head_kv > 0 and info.head_dim > 0 and info.context_length > 0
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(base_model_path.read_bytes()[: 50 * 2**20])
    with pytest.raises(TruncatedModelError, match="download it again"):
        read_model_info(cut)
