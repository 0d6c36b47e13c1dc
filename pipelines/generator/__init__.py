"""Deterministic sample-data generator for a Korean retailer (Asia/Seoul, KRW).

``generate`` writes landing/<entity>/ files following landing contract v1 and the planted
ground truth into ``settings.truth_dir``; ``generate_next_night`` adds one more night's
delivery. See ``config.GeneratorConfig`` for every knob and its default.
"""

from .config import GeneratorConfig
from .core import DEFAULT_END_DATE, GenerateResult, generate
from .night import NightResult, generate_next_night

__all__ = [
    "DEFAULT_END_DATE",
    "GenerateResult",
    "GeneratorConfig",
    "NightResult",
    "generate",
    "generate_next_night",
]
