"""schemathesis hooks of bench/fuzz.py (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import os
from typing import Any

import schemathesis

OWN_USER_ID = os.environ.get("LFS_FUZZ_USER_ID", "")


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave the run's own user alone: the stateful phase finds its id in GET /api/users, and a
    PATCH of its password ends every token it holds — the rest of the run would be 401s."""
    if case.path == "/api/users/{user_id}" and case.method.upper() in ("PATCH", "DELETE"):
        return str((case.path_parameters or {}).get("user_id")) != OWN_USER_ID
    return True
