"""slaplug: an SLA engine that plugs into the helpdesks teams already run."""

from slaplug.hookspecs import hookimpl

__all__ = ["hookimpl"]
