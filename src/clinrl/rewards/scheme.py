"""Reward schemes for verifiable tasks."""

from __future__ import annotations

from dataclasses import dataclass

from clinrl.errors import ConfigError


@dataclass(frozen=True)
class RewardScheme:
    """EHRMIND's verifiable reward: malformed -2, well-formed but wrong 0, correct 1.1.

    The correct reward is 0.1 for the format plus 1.0 for the answer. The two TRL reward
    functions a task exposes split it so that their sum is exactly this scheme:
    ``format`` gives ``malformed`` or 0, ``correctness`` gives ``correct`` or ``wrong``.
    """

    malformed: float = -2.0
    wrong: float = 0.0
    correct: float = 1.1

    def __post_init__(self) -> None:
        if not (self.malformed <= self.wrong < self.correct):
            raise ConfigError(
                "reward scheme must satisfy malformed <= wrong < correct, got "
                f"malformed={self.malformed}, wrong={self.wrong}, correct={self.correct}"
            )

    def value(self, format_ok: bool, correct: bool) -> float:
        if not format_ok:
            return self.malformed
        return self.correct if correct else self.wrong
