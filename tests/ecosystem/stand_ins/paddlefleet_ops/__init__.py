"""Test-only stand-in (see tests/ecosystem/stand_ins/_unavailable.py). The one
answer it gives: DeepEP is not available here, which PaddleFormers asks at
import time and which is true; every other name raises when used."""
from _unavailable import module_getattr

__getattr__ = module_getattr(__name__)


def is_deep_ep_available():
    return False
