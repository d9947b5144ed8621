"""``python -m slaplug_freshdesk.fake``: the same as ``slaplug fake freshdesk``."""

import sys

from slaplug_freshdesk.fake.command import main_fake_freshdesk

sys.exit(main_fake_freshdesk())
