"""Exercises: drawing them, and their answer keys and answer templates."""
