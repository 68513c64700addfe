"""airline_runtime: the adapters, composition root and entry points around :mod:`airline_core`.

Nothing is built at import time: :func:`airline_runtime.bootstrap.bootstrap` builds the engine and
the stores from :class:`airline_runtime.settings.Settings`, and every entry point (the Litestar app,
the ``airline`` CLI, tests) enters it.
"""

from airline_core import __version__

__all__ = ["__version__"]
