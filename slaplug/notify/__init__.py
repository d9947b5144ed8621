"""Notifications that reach people: channels of apprise URLs, messages, at-most-one-repeat delivery.

* `Channel` (`channels`): a named list of services, from ``notify:`` in ``slaplug.yaml``.
* `build_message` (`message`): subject, plain text and HTML with the ticket's link and clock.
* `Notifications` (`deliver`): delivers ``notify`` actions from the outbox, recording each send.
"""

from slaplug.notify.channels import Channel, ChannelTarget, parse_channels
from slaplug.notify.deliver import DeliveryError, Notifications
from slaplug.notify.message import Message, build_message

__all__ = [
    "Channel",
    "ChannelTarget",
    "DeliveryError",
    "Message",
    "Notifications",
    "build_message",
    "parse_channels",
]
