"""Core tests run on a plain and on an encrypted (SQLCipher) registry.

PANELMANAGER_TEST_REGISTRY=plain (or =encrypted) runs one kind only.
"""

from __future__ import annotations

import os

import pytest

KINDS = [k for k in os.environ.get("PANELMANAGER_TEST_REGISTRY", "plain,encrypted").split(",") if k]


@pytest.fixture(params=KINDS)
def registry_kind(request) -> str:
    return request.param
