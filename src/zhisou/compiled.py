"""Numba kernels that are compiled (or loaded from numba's cache) on first use.

Importing numba costs ~0.2 s and ~65 MB. Commands that never score (index, get, stats) and
builds of small corpora need none of it, so ``import zhisou`` must not pull it in: ``@kernel``
stands for ``numba.njit(cache=True, nogil=True, error_model="numpy")`` applied at the first call
of any kernel. NumPy's error model: a float division by zero gives inf or nan instead of a check
and a branch before every division, which also kept loops with a division from being
vectorized (no kernel divides by a value that can be zero: BM25's denominator is tf + a
non-negative norm, tf ≥ 1).
At that moment every kernel defined so far gets its dispatcher, and the names kernels call
each other by are rebound to the dispatchers, so compiled code only ever calls compiled code.
Hot callers look kernels up as module attributes (``kernels.accumulate``) to reach the
dispatcher directly after that first call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from types import FunctionType
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_python: dict[Callable[..., Any], FunctionType] = {}  # wrapper → the Python function it stands for
_inlined: set[Callable[..., Any]] = set()  # wrappers compiled into their callers (``inline``)
_dispatchers: dict[Callable[..., Any], Callable[..., Any]] = {}  # wrapper → numba dispatcher
_lock = threading.Lock()


def inline(function: F) -> F:
    """A kernel that compiled callers take in whole (numba's ``inline="always"``): a small helper
    called per posting, where a call passing arrays costs more than its work (reference counts
    of every array argument)."""
    wrapper = kernel(function)
    _inlined.add(wrapper)
    return wrapper


def kernel(function: F) -> F:
    """Mark ``function`` as a numba kernel, compiled on first use."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        dispatcher = _dispatchers.get(call)
        if dispatcher is None:
            dispatcher = _compile(call)
        return dispatcher(*args, **kwargs)

    _python[call] = cast(FunctionType, function)
    return cast(F, call)


def _compile(wrapper: Callable[..., Any]) -> Callable[..., Any]:
    with _lock:
        if wrapper not in _dispatchers:
            from numba import njit

            for each, function in _python.items():
                if each not in _dispatchers:
                    options = {"inline": "always"} if each in _inlined else {}
                    _dispatchers[each] = njit(cache=True, nogil=True, error_model="numpy", **options)(function)
            # Rebind module names from wrappers to dispatchers: a kernel's own name (callers
            # that look it up in its module skip the wrapper from now on) and every name a
            # kernel calls, in whichever module it was imported into.
            for each, function in _python.items():
                names = function.__globals__
                if names.get(function.__name__) is each:
                    names[function.__name__] = _dispatchers[each]
                for name in function.__code__.co_names:
                    target = names.get(name)
                    if isinstance(target, FunctionType) and target in _dispatchers:
                        names[name] = _dispatchers[target]
        return _dispatchers[wrapper]
