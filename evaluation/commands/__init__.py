"""Subcommands of ``wsol-bench``: one module each, discovered by :mod:`evaluation.cli`.

A command module defines ``register(subparsers) -> None``, which adds its parser and sets
``func`` (called with the parsed namespace, returning the exit status). Heavy imports belong
inside ``func`` so that ``wsol-bench --help`` stays fast.

May import: any package of :mod:`evaluation`. Nothing but :mod:`evaluation.cli` imports this
package.
"""
