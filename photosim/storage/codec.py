"""How the library database stores paths and vectors: paths as their bytes (any name
round-trips), vectors as float16 bytes (readers always get float32)."""

from __future__ import annotations

import os

import numpy as np


def _enc(path: str | os.PathLike) -> bytes:
    return os.fsencode(path)


def _dec(value: bytes | str) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


VECTOR_DTYPE = np.float16  # on disk; every reader gets float32


def encode_vector(vector: np.ndarray) -> bytes:
    """A vector's bytes as stored: float16 (unit vectors lose ~1e-3 at most)."""
    return np.asarray(vector, np.float32).astype(VECTOR_DTYPE).tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    """The float32 vector stored as ``blob``."""
    return np.frombuffer(blob, VECTOR_DTYPE).astype(np.float32)


def decode_vectors(blobs: list[bytes]) -> np.ndarray:
    """The float32 matrix of many stored vectors (one join, one conversion for the lot)."""
    return np.frombuffer(b"".join(blobs), VECTOR_DTYPE).reshape(len(blobs), -1).astype(np.float32)
