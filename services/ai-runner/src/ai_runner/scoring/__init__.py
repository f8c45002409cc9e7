"""Graders that need no model provider: the deterministic offline grader."""
