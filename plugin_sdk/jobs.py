"""Scheduled jobs a plugin registers through ``register_jobs``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScheduledJob:
    """Run ``run(ctx)`` once per store-local day at ``at`` (``HH:MM``) in every store where the
    plugin is enabled. A day's run happens once even with several workers or a restart."""

    name: str
    run: Callable[[Any], Any]
    at: str = "03:00"
    plugin_id: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", self.at):
            raise ValueError(f"ScheduledJob {self.name!r}: at must be HH:MM, got {self.at!r}")
