"""Programs some tests need (espeak-ng, ffmpeg): found, or the test skips locally and fails
in CI (``CI=true``), where .ci/run installs them."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, installer: str = ".ci/install-speech.sh") -> str:
    """The path of program ``name``; skip (fail in CI) naming what is missing and its fix."""
    binary = shutil.which(name)
    if binary is None:
        message = f"{name} not installed: run {installer}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary
