"""Versioned prompt templates for the VLM providers.

Rating follows ERL-VLM's two stages: stage 1 shows the frames and asks for an analysis with
respect to completing the task; stage 2 shows only that analysis and asks for one category,
which the provider constrains with an enum response schema. Preference follows RL-VLM-F: a
free-form comparison of two images, then "0", "1" or "-1". The wording is this project's own.

A template's version and its rendered text (with the stage-1 analysis left as a placeholder)
go into every cache key, so editing a prompt never silently reuses answers to the old one:
bump `version` when you change the wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

ANALYSIS_SLOT = "{analysis}"

#: category names by number of levels, worst first (index = Rating.level)
LEVEL_NAMES: dict[int, tuple[str, ...]] = {
    2: ("Bad", "Good"),
    3: ("Bad", "Average", "Good"),
    4: ("Very bad", "Bad", "Good", "Very good"),
    5: ("Very bad", "Bad", "Average", "Good", "Very good"),
}

#: preference answers in RL-VLM-F's convention: 0 first better, 1 second better, -1 no preference
PREFERENCE_ANSWERS: tuple[str, ...] = ("0", "1", "-1")


def level_names(levels: int) -> tuple[str, ...]:
    if levels not in LEVEL_NAMES:
        raise ValueError(
            f"VLM ratings support {sorted(LEVEL_NAMES)} levels, got {levels}; "
            "pick one of those for the task or method"
        )
    return LEVEL_NAMES[levels]


@dataclass(frozen=True)
class RatePrompt:
    version: str
    single_frame: str
    trajectory: str
    choose: str

    def stage1(self, instruction: str, n_frames: int) -> str:
        if n_frames <= 1:
            return self.single_frame.format(instruction=instruction)
        return self.trajectory.format(instruction=instruction, n=n_frames)

    def stage2(self, instruction: str, levels: int, n_frames: int, analysis: str) -> str:
        names = level_names(levels)
        return self.choose.format(
            instruction=instruction,
            subject="state" if n_frames <= 1 else "attempt",
            categories=", ".join(names),
            worst=names[0],
            best=names[-1],
            analysis=analysis,
        )


@dataclass(frozen=True)
class PreferPrompt:
    version: str
    compare: str
    choose: str

    def stage1(self, instruction: str) -> str:
        return self.compare.format(instruction=instruction)

    def stage2(self, instruction: str, analysis: str) -> str:
        return self.choose.format(instruction=instruction, analysis=analysis)


RATE_V1 = RatePrompt(
    version="rate/v1",
    single_frame=(
        "The image shows a robot and its surroundings. The robot's task is: {instruction}.\n"
        "Study the image and explain what it tells about this task: where the relevant objects "
        "are, whether the robot is interacting with them, and how far the task is from being "
        "completed (finished, partly done, or not started). Describe only what is visible."
    ),
    trajectory=(
        "The {n} images are frames of one attempt by a robot, in time order. The robot's task "
        "is: {instruction}.\nGo through the frames and explain what they tell about this task: "
        "what the robot does, which objects it handles, and whether the final frames show the "
        "task completed, partly done, or not started. Describe only what is visible."
    ),
    choose=(
        "Here is an analysis of a robot's {subject} for the task: {instruction}.\n\n"
        "Analysis:\n{analysis}\n\n"
        "Using only this analysis, rate how well the {subject} achieves the task. "
        "Answer with exactly one of these categories, from worst to best: {categories}. "
        "'{best}' means the task is completed; '{worst}' means it is far from completed."
    ),
)

PREFER_V1 = PreferPrompt(
    version="prefer/v1",
    compare=(
        "Two images follow, Image 1 and then Image 2. The robot's task is: {instruction}.\n"
        "Describe what each image shows that matters for this task, then say which image is "
        "closer to the task being completed, or whether neither is clearly closer."
    ),
    choose=(
        "Here is a comparison of two images for the task: {instruction}.\n\n"
        "Comparison:\n{analysis}\n\n"
        "Using only this comparison, answer 0 if Image 1 better achieves the task, 1 if Image 2 "
        "does, and -1 if neither is clearly better. Reply with the number only."
    ),
)

RATE_PROMPTS: dict[str, RatePrompt] = {RATE_V1.version: RATE_V1}
PREFER_PROMPTS: dict[str, PreferPrompt] = {PREFER_V1.version: PREFER_V1}


def get_rate_prompt(version: str = RATE_V1.version) -> RatePrompt:
    if version not in RATE_PROMPTS:
        raise ValueError(f"unknown rating prompt {version!r}; known: {sorted(RATE_PROMPTS)}")
    return RATE_PROMPTS[version]


def get_prefer_prompt(version: str = PREFER_V1.version) -> PreferPrompt:
    if version not in PREFER_PROMPTS:
        raise ValueError(f"unknown preference prompt {version!r}; known: {sorted(PREFER_PROMPTS)}")
    return PREFER_PROMPTS[version]


@lru_cache(maxsize=4096)
def key_text(
    rate_version: str,
    prefer_version: str,
    kind: str,
    instruction: str,
    levels: int | None,
    n_frames: int,
) -> str:
    """The rendered text that goes into the cache key (analysis left as a placeholder)."""
    if kind == "rate":
        p = get_rate_prompt(rate_version)
        return (
            p.stage1(instruction, n_frames)
            + "\n---\n"
            + p.stage2(instruction, int(levels or 0), n_frames, ANALYSIS_SLOT)
        )
    q = get_prefer_prompt(prefer_version)
    return q.stage1(instruction) + "\n---\n" + q.stage2(instruction, ANALYSIS_SLOT)
