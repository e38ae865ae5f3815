"""The fillable sheet's form-field contract: what the sheets write and grading reads back.

`bpquiz generate --fillable` renders each answer box as a PDF text field named by its quantity id;
these are the other fields and entries a sheet carries, so that a filled sheet identifies itself,
and what every PDF bpquiz writes says of itself, so that grading a folder can tell bpquiz's own
documents (solutions, class files, feedback) from what students handed in.
"""

from __future__ import annotations

VARIANT_FIELD = "bpquiz_variant"
"""A hidden, read-only text field holding the variant code."""
STUDENT_FIELD = "bpquiz_student"
NAME_FIELD = "bpquiz_name"
"""The student's name, for whoever reads the printed sheet; grading identifies by student id."""
VARIANT_INFO = "/BpquizVariant"
"""The variant code again, in the document information dictionary: a viewer that rewrites forms
on saving may drop a hidden field, and one that rewrites the file may drop custom information."""
CREATOR = "bpquiz"
"""The document information's /Creator (and XMP's CreatorTool) of every PDF bpquiz writes. No
version: the same inputs give the same bytes across releases where nothing else changed."""
