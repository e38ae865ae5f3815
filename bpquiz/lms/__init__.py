"""Online delivery: a key's variants as question banks an LMS imports (Moodle XML, QTI 2.1,
Canvas's QTI 1.2). Reading the LMS's responses back is grading's job (bpquiz.grading.readers)."""
