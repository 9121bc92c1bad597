"""Benchmarks behind ``hearth bench ...``: each compares Hearth with a named baseline in the same run."""
