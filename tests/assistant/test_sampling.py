"""The sampler chain's fast greedy path chooses exactly what llama.cpp's own chain chooses."""

from __future__ import annotations

from pathlib import Path

import llama_cpp as C
import pytest

from assistant.cpu import default_threads
from assistant.engine import GREEDY, native
from assistant.engine.sampling import SamplerChain

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("penalty", "last_n", "frequency", "presence"),
                         [(1.1, 64, 0.0, 0.0), (1.5, 8, 0.0, 0.0), (0.8, 16, 0.0, 0.0), (1.0, 64, 0.0, 0.0),
                          (1.0, 64, 0.6, 0.0), (1.1, 32, 0.3, 0.4), (1.0, 16, -0.5, 0.2)])
def test_greedy_with_penalties_matches_llama_cpps_chain(chat_model_path: Path, penalty: float, last_n: int,
                                                        frequency: float, presence: float) -> None:
    """NumPy's argmax (after the penalties) against the native chain built from the same settings, token by
    token over a real answer long enough for the penalty window to slide; a repeat penalty below 1, or a
    negative frequency penalty (OpenAI's range is -2 to 2), favours repeats."""
    model = native.NativeModel(str(chat_model_path))
    # threads by the cores this worker may use (one, under `make test`): two threads on one core spin against
    # each other in llama.cpp's barriers, and the 200 tokens took minutes while another worker ran
    ctx = native.NativeContext(model, 1024, 256, default_threads())
    params = GREEDY.with_(repeat_penalty=penalty, repeat_last_n=last_n, frequency_penalty=frequency,
                          presence_penalty=presence)
    sampler = SamplerChain(params, model.vocab, model.n_vocab)
    try:
        prompt = model.tokenize("<|im_start|>user\nList twenty animals, one per line.<|im_end|>\n"
                                "<|im_start|>assistant\n", add_special=True)
        ctx.eval(prompt, 0)
        chosen = []
        for pos in range(len(prompt), len(prompt) + 200):
            native_choice = C.llama_sampler_sample(sampler.ptr, ctx.ptr, -1)  # also advances its own window
            fast_choice = sampler.sample(ctx.ptr, -1)
            assert fast_choice == native_choice, f"token {len(chosen)}: {fast_choice} != {native_choice}"
            chosen.append(fast_choice)
            ctx.eval_one(fast_choice, pos)
        assert len(set(chosen)) > 8  # a real answer, not one token over and over
    finally:
        sampler.close()
        ctx.close()
        model.close()


def test_top_p_0_keeps_the_likeliest_token_only(chat_model_path: Path) -> None:
    """OpenAI's ``top_p: 0`` (and the settings' Top-p 0) is the likeliest token only: it filtered nothing, so a
    hot temperature sampled from the whole vocabulary."""
    model = native.NativeModel(str(chat_model_path))
    ctx = native.NativeContext(model, 512, 256, default_threads())
    greedy = SamplerChain(GREEDY, model.vocab, model.n_vocab)
    narrow = SamplerChain(GREEDY.with_(temperature=1.8, top_p=0.0, seed=7), model.vocab, model.n_vocab)
    try:
        prompt = model.tokenize("<|im_start|>user\nName five colours.<|im_end|>\n<|im_start|>assistant\n",
                                add_special=True)
        ctx.eval(prompt, 0)
        for pos in range(len(prompt), len(prompt) + 40):
            choice = C.llama_sampler_sample(greedy.ptr, ctx.ptr, -1)
            assert C.llama_sampler_sample(narrow.ptr, ctx.ptr, -1) == choice, f"token {pos - len(prompt)}"
            ctx.eval_one(choice, pos)
    finally:
        greedy.close()
        narrow.close()
        ctx.close()
        model.close()
