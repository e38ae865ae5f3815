"""Marking students' answers: reading them, comparing, follow-through, reports."""
