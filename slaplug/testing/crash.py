"""Named crash points (moved to `slaplug.crashpoints`; this name stays for existing tests).

Production code imports `slaplug.crashpoints`, so the runners never load the testing
package; tests and plugins written against ``slaplug.testing.crash`` keep working.
"""

from __future__ import annotations

from slaplug.crashpoints import crashpoint

__all__ = ["crashpoint"]
