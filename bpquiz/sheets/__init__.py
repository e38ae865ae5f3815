"""The printed sheets: content (contexts, templates, the drawing) and output (PDF, HTML)."""
