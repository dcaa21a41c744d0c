"""Friendly agent names (``swift-fox``) that are easy to type on a phone keyboard."""

from __future__ import annotations

import random
from collections.abc import Container

ADJECTIVES = (
    "swift", "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lively",
    "lucky", "merry", "nimble", "proud", "quick", "quiet", "sharp", "shy", "silent", "sly",
    "steady", "sunny", "tidy", "witty", "wise", "bold", "bright", "cosy", "daring", "fancy",
    "fuzzy", "grand", "humble", "mellow", "noble", "plucky", "rapid", "rosy", "snappy", "zesty",
)
ANIMALS = (
    "fox", "owl", "otter", "panda", "badger", "beaver", "bison", "camel", "crane", "deer",
    "dolphin", "eagle", "falcon", "ferret", "finch", "gecko", "heron", "ibis", "jaguar", "koala",
    "lemur", "lynx", "marten", "mole", "moose", "newt", "orca", "puffin", "quail", "raven",
    "robin", "seal", "sloth", "stoat", "swan", "tapir", "tiger", "toad", "walrus", "wolf",
)


def generate_name(taken: Container[str], rng: random.Random | None = None) -> str:
    """An adjective-animal name not in ``taken``; adds a number once the 1,600 pairs run out."""
    rng = rng or random.SystemRandom()
    for _ in range(200):
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}"
        if name not in taken:
            return name
    n = 2
    while True:
        for adjective in ADJECTIVES:
            for animal in ANIMALS:
                name = f"{adjective}-{animal}-{n}"
                if name not in taken:
                    return name
        n += 1
