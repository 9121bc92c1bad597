"""Widgets only: layout, styling and signals. They never call the core; controllers do."""
