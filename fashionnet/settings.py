"""The learner's settings: one typed dataclass, its two presets, and the checks on values from outside.

The Lesson preset reproduces every number printed in ``extra-on-training.md``; the Modern preset is
what a practitioner would use today. Pages build a :class:`Settings` from widget values; any change of
settings starts a fresh model from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

ACTIVATIONS = ("sigmoid", "relu")
OPTIMIZERS = ("adam", "sgd")
MAX_SEED = 2**31 - 1
LR_RANGE = (1e-6, 1e6)  # wide on purpose: a huge lr is a lesson too, and a step that blows up is refused


@dataclass(frozen=True)
class Settings:
    seed: int = 0  # the lesson calls torch.manual_seed(0) before Net()
    activation: str = "sigmoid"  # the lesson's network squashes every layer with a sigmoid
    scale_inputs: bool = False  # the lesson feeds raw 0-255 pixel values, not [0, 1]
    optimizer: str = "adam"  # the lesson's optim.Adam
    lr: float = 0.005  # the lesson's code says 0.0005, but its printed W3 moved by 0.005: only lr=0.005 gives that

    def validated(self) -> Settings:
        """Raise ValueError with a learner-readable reason when a value is out of range."""
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or not LR_RANGE[0] <= self.lr <= LR_RANGE[1]:
            raise ValueError(f"learning rate must be a number from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}")
        return replace(self, lr=float(self.lr), scale_inputs=bool(self.scale_inputs))


LESSON = Settings()
MODERN = Settings(activation="relu", scale_inputs=True, optimizer="adam", lr=0.001)  # the usual Adam default
PRESETS: dict[str, Settings] = {"Lesson": LESSON, "Modern": MODERN}


def preset_name(settings: Settings) -> str:
    """ "Lesson", "Modern" or "Custom"; the seed does not change which preset the settings follow."""
    for name, preset in PRESETS.items():
        if replace(preset, seed=settings.seed) == settings:
            return name
    return "Custom"
