"""Zip packages (QTI content packages, Canvas's imports), the same bytes for the same files."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping

EPOCH = (1980, 1, 1, 0, 0, 0)
"""Zip's earliest date: packages never carry the time they were made."""


def zip_bytes(files: Mapping[str, str | bytes]) -> bytes:
    """A zip of `files` (path in the package → content), in the given order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = content.encode("utf-8") if isinstance(content, str) else content
            archive.writestr(info, data)
    return buffer.getvalue()


def identifier(text: str) -> str:
    """An XML identifier (NCName: what QTI and IMS CP identifiers must be) made from free text."""
    out = re.sub(r"[^A-Za-z0-9_.-]", "_", text)
    return out if re.match(r"[A-Za-z_]", out) else "_" + out
