"""``python -m slaplug.cli``: the same as the ``slaplug`` command."""

from slaplug.cli import main

main()
