"""Memory learning killed at random points: every queued turn is either learned (its fact stored once) or
still queued, never lost and never stored twice; the next run learns the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeEmbedder
from kill import kill_after_first_line, start_child

from assistant.config import MemorySettings
from assistant.engine import Engine
from assistant.memory import MemoryService
from assistant.paths import get_paths

PLACES = ["Lisbon", "Porto", "Braga", "Faro", "Evora", "Coimbra", "Sintra", "Aveiro"]
CHILD = """
    import json, sys, time
    from fakes import FakeEmbedder
    from assistant.config import MemorySettings
    from assistant.engine import Engine
    from assistant.memory import MemoryService
    from assistant.paths import get_paths

    class SlowFacts:
        '''mem0's LLM slot: yes to each turn's one fact, no to "does it replace an older one", slowly.'''
        def yes_probability(self, messages, cancel=None):
            time.sleep(0.15)
            return 0.0 if "Old fact:" in messages[-1]["content"] else 0.9

    memory = MemoryService(get_paths().ensure(), MemorySettings(), Engine(), FakeEmbedder(), llm=SlowFacts())
    if memory.pending_count() == 0 and not memory.list():
        for place in json.loads(sys.argv[1]):
            memory.enqueue_turn("c1", f"I visited {place} last summer.")
    print("started", flush=True)
    memory.process_pending()
    print("finished", flush=True)
"""


@pytest.mark.parametrize("seed", range(3))
def test_kill_while_learning_loses_and_doubles_nothing(seed: int, home: Path, monkeypatch) -> None:
    import json

    places = json.dumps(PLACES)
    kill_after_first_line(start_child(CHILD, home, places), seed + 10, window_s=1.6)
    monkeypatch.setenv("HEARTH_HOME", str(home))

    def check(memory: MemoryService) -> list[str]:
        learned = sorted(m.text for m in memory.list())
        assert len(learned) == len(set(learned)), f"a fact was stored twice: {learned}"
        assert len(learned) + memory.pending_count() == len(PLACES)  # learned or still queued, nothing lost
        return learned

    memory = MemoryService(get_paths().ensure(), MemorySettings(), Engine(), FakeEmbedder())
    try:
        check(memory)
    finally:
        memory.close()
    finish = start_child(CHILD, home, places)
    assert finish.communicate(timeout=120)[0].split() == ["started", "finished"]
    memory = MemoryService(get_paths().ensure(), MemorySettings(), Engine(), FakeEmbedder())
    try:
        assert check(memory) == sorted(f"User visited {p} last summer" for p in PLACES)
    finally:
        memory.close()
