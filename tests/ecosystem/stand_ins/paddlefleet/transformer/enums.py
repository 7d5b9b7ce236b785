"""Test-only stand-in: PaddleFormers reads ``ModelType.encoder_or_decoder`` as a
default argument when its provider module is imported."""
import enum


class ModelType(enum.Enum):
    encoder_or_decoder = 1
