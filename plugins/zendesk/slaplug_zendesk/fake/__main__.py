"""``python -m slaplug_zendesk.fake``: the same as ``slaplug fake zendesk``."""

import sys

from slaplug_zendesk.fake.command import main_fake_zendesk

sys.exit(main_fake_zendesk())
