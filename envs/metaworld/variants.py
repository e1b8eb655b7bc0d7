"""Task-name switches: `metaworld/<task>[@random][@camera=reference][@effects=on]
[@reward_frame_size=N]`.

Each switch turns one environment-side difference from the reference code back to the
reference's behaviour (docs/deviations.md): `@random` v3's randomised layout instead of the
reference's fixed one (layouts.py), `@camera=reference` the reference's fixed camera and its
top-bottom flip (cameras.py), `@effects=on` MetaWorld's default rendering effects (render.py),
`@reward_frame_size=224` the reference's frame size for the reward CNN. They live in the task
name, like the layout, so that run directories, tables, caches and leaderboards tell the
variants apart without any other plumbing. Each combination has exactly one spelling: the
switches in the order above, defaults left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from envs.metaworld.cameras import REFERENCE_CAMERAS

#: the reward CNN's default input (TaskSpec.reward_frame_size) and the sizes it accepts: its
#: four convolutions need at least 48 px; the renderer's buffer is at least 480 px
DEFAULT_REWARD_FRAME_SIZE = 64
REWARD_FRAME_SIZES = range(48, 481)

CAMERAS = ("suite", "reference")


@dataclass(frozen=True)
class Variant:
    """What a MetaWorld task name asks for."""

    base: str
    #: v3's randomised layout instead of the reference's fixed one (paper tasks)
    random: bool = False
    #: "suite": the suite's free camera; "reference": the fork's fixed camera, flipped as it did
    camera: str = "suite"
    #: MetaWorld's default rendering effects (shadows, reflections, skybox, multisampling)
    effects: bool = False
    reward_frame_size: int = DEFAULT_REWARD_FRAME_SIZE

    def name(self) -> str:
        """The one spelling of this variant (defaults left out)."""
        parts = [self.base]
        if self.random:
            parts.append("random")
        if self.camera != "suite":
            parts.append(f"camera={self.camera}")
        if self.effects:
            parts.append("effects=on")
        if self.reward_frame_size != DEFAULT_REWARD_FRAME_SIZE:
            parts.append(f"reward_frame_size={self.reward_frame_size}")
        return "@".join(parts)


def _apply(variant: Variant, switch: str, short: str) -> Variant:
    if switch == "random":
        return replace(variant, random=True)
    key, sep, value = switch.partition("=")
    if not sep:
        raise ValueError(f"unknown MetaWorld switch '@{switch}' in '{short}'; {SYNTAX}")
    if key == "camera":
        if value not in CAMERAS:
            raise ValueError(f"'@camera={value}' in '{short}': choose one of {', '.join(CAMERAS)}")
        if value == "reference" and variant.base not in REFERENCE_CAMERAS:
            raise ValueError(
                f"the reference code has no camera for '{variant.base}' (it has one for "
                f"{', '.join(sorted(REFERENCE_CAMERAS))})"
            )
        return replace(variant, camera=value)
    if key == "effects":
        if value not in ("on", "off"):
            raise ValueError(f"'@effects={value}' in '{short}': choose on or off")
        return replace(variant, effects=value == "on")
    if key == "reward_frame_size":
        if not value.isdigit() or int(value) not in REWARD_FRAME_SIZES:
            raise ValueError(
                f"'@reward_frame_size={value}' in '{short}': an integer from "
                f"{REWARD_FRAME_SIZES.start} to {REWARD_FRAME_SIZES.stop - 1}"
            )
        return replace(variant, reward_frame_size=int(value))
    raise ValueError(f"unknown MetaWorld switch '@{switch}' in '{short}'; {SYNTAX}")


SYNTAX = (
    "a MetaWorld task is <task>[@random][@camera=reference][@effects=on]"
    "[@reward_frame_size=N], in that order"
)


def parse_variant(short: str) -> Variant:
    """'soccer@random@camera=reference' -> Variant(...). Raises ValueError for an unknown
    switch, a bad value, or a spelling other than the canonical one (`Variant.name`)."""
    base, *switches = short.split("@")
    variant = Variant(base)
    for switch in switches:
        variant = _apply(variant, switch, short)
    canonical = variant.name()
    if canonical != short:
        raise ValueError(f"write '{short}' as '{canonical}' ({SYNTAX}, defaults left out)")
    return variant
