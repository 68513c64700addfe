"""``python -m airline_runtime`` runs the ``airline`` command."""

from airline_runtime.cli import main

main()
