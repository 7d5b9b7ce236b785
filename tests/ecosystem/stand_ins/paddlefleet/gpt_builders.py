"""Test-only stand-in (see tests/ecosystem/stand_ins/_unavailable.py): every name raises when used."""
from _unavailable import module_getattr

__getattr__ = module_getattr(__name__)
