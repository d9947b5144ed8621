"""Fake helpdesk servers: real HTTP on 127.0.0.1, faithful to each platform's documented API.

``base`` holds the pieces every fake shares (server thread, clock, fault injection, write
recording, signed webhook sender); ``zendesk_data`` and ``zendesk_server`` are the fake
Zendesk. Import the public entry point from :mod:`slaplug.testing.fake_zendesk`.
"""
