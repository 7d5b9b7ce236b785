"""What the stand-in packages are made of: every function and class raises
the moment it is used, so code that only imports them works and code that
needs them fails loudly."""


import importlib


class UnavailableError(RuntimeError):
    pass


def _refuse(name):
    raise UnavailableError(f"{name} is a test-only stand-in (tests/ecosystem/stand_ins): the real "
                           f"package is not installed in this environment")


def function(name):
    def unavailable(*args, **kwargs):
        _refuse(name)
    unavailable.__qualname__ = unavailable.__name__ = name.rsplit(".", 1)[-1]
    return unavailable


def cls(name):
    """A class that can be subclassed (PaddleFormers derives from some) but
    not instantiated."""
    def __init__(self, *args, **kwargs):
        _refuse(name)
    return type(name.rsplit(".", 1)[-1], (), {"__init__": __init__, "__module__": name.rsplit(".", 1)[0]})


def module_getattr(module_name):
    """A module ``__getattr__``: any name imported from the module is a
    refusing class (capitalised names) or a refusing function."""
    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        full = f"{module_name}.{attr}"
        try:    # a submodule of the stand-in package
            return importlib.import_module(full)
        except ModuleNotFoundError:
            pass
        return cls(full) if attr[:1].isupper() else function(full)
    return __getattr__
