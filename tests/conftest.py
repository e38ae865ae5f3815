"""Every test run keeps its skeletons (bpquiz.sheets.stamping.cache) in a folder of its own, never the user's."""

from __future__ import annotations

import os
import tempfile

import pytest


@pytest.fixture(scope="session", autouse=True)
def skeleton_cache():
    with tempfile.TemporaryDirectory(prefix="bpquiz-cache-") as folder:
        before = os.environ.get("BPQUIZ_CACHE")
        os.environ["BPQUIZ_CACHE"] = folder
        yield folder
        if before is None:
            del os.environ["BPQUIZ_CACHE"]
        else:
            os.environ["BPQUIZ_CACHE"] = before
