"""``config/handoff.yml``: service levels, the accept timeout, transcript length."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot.store.models import RISK_LEVELS


@dataclass(frozen=True)
class HandoffConfig:
    """What a crisis team configures."""

    service_levels: dict[str, int] = field(default_factory=lambda: {"imminent": 2, "high": 5, "moderate": 15,
                                                                      "low": 60})
    accept_timeout_minutes: float = 10
    transcript_messages: int = 12

    def service_level(self, risk: str) -> int:
        """Minutes within which a contact at ``risk`` should be accepted."""
        return int(self.service_levels.get(risk, max(self.service_levels.values())))


@lru_cache(maxsize=4)
def load(path: Path) -> HandoffConfig:
    """Read and validate the file; missing keys keep their defaults."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    data = data or {}
    levels = {str(k): int(v) for k, v in (data.get("service_levels") or {}).items()}
    unknown = set(levels) - set(RISK_LEVELS)
    if unknown:
        raise ValueError(f"{path}: unknown risk levels in service_levels: {', '.join(sorted(unknown))}")
    defaults = HandoffConfig()
    return HandoffConfig(
        service_levels={**defaults.service_levels, **levels},
        accept_timeout_minutes=float(data.get("accept_timeout_minutes", defaults.accept_timeout_minutes)),
        transcript_messages=int(data.get("transcript_messages", defaults.transcript_messages)),
    )
