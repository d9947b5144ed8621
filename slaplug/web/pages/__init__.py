"""The web pages of ``slaplug serve``: the managers' dashboard and each customer's page.

- `slaplug.web.pages.routes`: the routes and who may see them;
- `slaplug.web.pages.auth`: manager tokens (bearer or basic auth), customer link tokens;
- `slaplug.web.pages.service`: the figures, measured at most once per refresh interval;
- `slaplug.web.pages.figures`: compliance through the computation of ``slaplug report``;
- `slaplug.web.pages.manager`, `slaplug.web.pages.customer`: rendering;
- `slaplug.web.pages.html`: escaping, the page shell, the stylesheet, security headers.

See docs/dashboard.md.
"""
