"""``python -m slaplug_jira.fake``: the same as ``slaplug fake jira``."""

import sys

from slaplug_jira.fake.command import main_fake_jira

sys.exit(main_fake_jira())
