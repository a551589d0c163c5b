"""The HTTP layer: the spec-driven pipeline (route → authenticate → validate → handle → render)."""
