"""Hearth's core: plain Python, no Qt. Front ends (CLI, GUI, benchmarks) talk to :class:`assistant.core.Assistant`."""

__version__ = "0.1.0"
