"""The fake Jira's built-in site: a deterministic, seeded generator of a few weeks of Jira
Service Management activity in one service project (``SUP``): agents, portal customers,
issues with public replies, internal notes, status and priority changes, resolutions,
reopens and closes. The same arguments always give the same site.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from slaplug_jira.fake.data import (
    ORGANIZATIONS,
    ORGANIZATIONS_KIND,
    REQUEST_TYPE_KIND,
    REQUEST_TYPES,
    FieldDef,
    Issue,
    JiraStore,
    JiraUser,
)
from slaplug_jira.fake.render import account_id_for

History = Literal["full", "minimal", "auto"]

ADMIN_EMAIL = "admin@fake-jira.test"
#: The accountId Jira Cloud uses for "Automation for Jira" (an ``app`` account).
AUTOMATION_ID = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
#: 2026-03-02T12:00:00Z, a Monday noon: the built-in set is generated against this end.
DEFAULT_END = 1_772_452_800

#: Custom field ids of the built-in site (stable: tests and docs use them).
FIELD_SLA_STATUS = "customfield_10050"
FIELD_SLA_BREACH_AT = "customfield_10051"
FIELD_ESCALATION_LEVEL = "customfield_10052"
FIELD_CONTRACT_TIER = "customfield_10053"
FIELD_PRODUCT_AREA = "customfield_10054"
FIELD_SLA_NOTES = "customfield_10055"
FIELD_TIME_TO_FIRST_RESPONSE = "customfield_10030"
FIELD_TIME_TO_RESOLUTION = "customfield_10031"
#: JSM's own fields (ids as a new JSM site numbers them; found by their schema ``custom``).
#: A "Support team" single select: the group a ticket is with (the connector's group_field).
FIELD_SUPPORT_TEAM = "customfield_10056"
#: A date picker (``com.atlassian.jira.plugin.system.customfieldtypes:datepicker``): a live SLA
#: field with ``format: date`` can show the deadline's day in it.
FIELD_SLA_DUE_DATE = "customfield_10057"
FIELD_ORGANIZATIONS = "customfield_10002"
FIELD_REQUEST_TYPE = "customfield_10010"

_AGENTS = (
    "Ana Souza",
    "Ben Okafor",
    "Chloe Martin",
    "Dev Patel",
    "Elena Rossi",
    "Farid Haddad",
    "Grace Liu",
    "Hugo Lambert",
)
_FIRST = ("Alice", "Bob", "Carmen", "Dmitri", "Emma", "Femi", "Gita", "Hans", "Ivy", "Jonas")
_LAST = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Ito")
_ORGS = (("acme", "gold"), ("globex", "silver"), ("initech", "bronze"), ("umbrella", "gold"))
_SUBJECTS = (  # summary, product area, default priority id, issue type id
    ("Cannot log in to the portal", "login", "3", "10003"),
    ("Password reset email never arrives", "login", "3", "10003"),
    ("How do I export reports to CSV?", "reports", "4", "10002"),
    ("Mobile app crashes on startup", "mobile", "2", "10003"),
    ("API returns 500 on the orders endpoint", "api", "2", "10003"),
    ("Webhook deliveries failing since this morning", "integrations", "2", "10003"),
    ("Data sync stuck at 80%", "integrations", "3", "10004"),
    ("Production outage: checkout unavailable", "api", "1", "10003"),
    ("Invoice shows the wrong VAT number", "billing", "4", "10002"),
    ("Request a new user account", "login", "5", "10002"),
)
_AREAS = ("login", "reports", "mobile", "api", "integrations", "billing")
_TIERS = (("10100", "gold"), ("10101", "silver"), ("10102", "bronze"))
_REPLIES = (
    "Thanks for reaching out. I am looking into this now.",
    "Thanks, I can reproduce this and am checking with the team.",
    "We rolled out a fix; could you try again and let us know?",
)
_NOTES = (
    "Internal: looks like the known issue in the release notes.",
    "Internal: asked engineering for a log pull.",
    "Internal: gold customer, keep an eye on this one.",
)


def _custom(fid: str, name: str, kind: str, custom_id: int, **extra: Any) -> FieldDef:
    types = {
        "textfield": "string",
        "textarea": "string",
        "float": "number",
        "datetime": "datetime",
        "datepicker": "date",
        "select": "option",
        "sd-sla-field": "sd-servicelevelagreement",
    }
    vendor = "servicedesk" if kind == "sd-sla-field" else "jira.plugin.system.customfieldtypes"
    schema = {
        "type": types[kind],
        "custom": f"com.atlassian.{vendor}:{kind}",
        "customId": custom_id,
    }
    return FieldDef(fid, name, schema, **extra)


def base_site(store: JiraStore) -> None:
    """Add the users and fields every fake site has: an admin, agents, the automation
    app, portal customers, and the system and custom fields."""
    admin = JiraUser(account_id_for(ADMIN_EMAIL), "Ada Admin", ADMIN_EMAIL, admin=True)
    store.users[admin.account_id] = admin
    for name in _AGENTS:
        email = name.lower().replace(" ", ".") + "@fake-jira.test"
        store.users[account_id_for(email)] = JiraUser(account_id_for(email), name, email)
    store.users[AUTOMATION_ID] = JiraUser(
        AUTOMATION_ID, "Automation for Jira", "automation@fake-jira.test", "app"
    )
    for k in range(24):
        first, last = _FIRST[k % len(_FIRST)], _LAST[(k * 3) % len(_LAST)]
        org = _ORGS[k % len(_ORGS)][0]
        email = f"{first}.{last}{k}@{org}.example".lower()
        aid = account_id_for(email, customer=True)
        store.users[aid] = JiraUser(aid, f"{first} {last}", email, "customer")
    system = (
        ("summary", "Summary", "string"),
        ("description", "Description", "string"),
        ("issuetype", "Issue Type", "issuetype"),
        ("project", "Project", "project"),
        ("status", "Status", "status"),
        ("priority", "Priority", "priority"),
        ("resolution", "Resolution", "resolution"),
        ("resolutiondate", "Resolved", "datetime"),
        ("assignee", "Assignee", "user"),
        ("reporter", "Reporter", "user"),
        ("creator", "Creator", "user"),
        ("labels", "Labels", "array"),
        # Schema {"type": "date", "system": "duedate"}, clause names due/duedate: as Jira
        # lists it (AtlassianPS/JiraPS#173 quotes a site's GET /field row for it).
        ("duedate", "Due date", "date"),
        ("created", "Created", "datetime"),
        ("updated", "Updated", "datetime"),
        ("statuscategorychangedate", "Status Category Changed", "datetime"),
        ("comment", "Comment", "comments-page"),
    )
    read_only = {
        "project",
        "status",
        "resolutiondate",
        "creator",
        "created",
        "updated",
        "statuscategorychangedate",
        "comment",
        "resolution",
    }
    store.fields = [
        FieldDef(
            fid,
            name,
            {"type": t, "system": fid, **({"items": "string"} if fid == "labels" else {})},
            fid not in read_only,
        )
        for fid, name, t in system
    ]
    store.fields += [
        # JSM computes SLA fields; integrations cannot write them (reference §2.2).
        _custom(
            FIELD_TIME_TO_FIRST_RESPONSE,
            "Time to first response",
            "sd-sla-field",
            10030,
            editable=False,
        ),
        _custom(
            FIELD_TIME_TO_RESOLUTION, "Time to resolution", "sd-sla-field", 10031, editable=False
        ),
        _custom(FIELD_SLA_STATUS, "SLA status", "textfield", 10050),
        _custom(FIELD_SLA_BREACH_AT, "SLA breach at", "datetime", 10051),
        _custom(FIELD_ESCALATION_LEVEL, "Escalation level", "float", 10052),
        _custom(FIELD_CONTRACT_TIER, "Contract tier", "select", 10053, options=_TIERS),
        _custom(
            FIELD_PRODUCT_AREA,
            "Product area",
            "select",
            10054,
            options=tuple((str(10200 + i), a) for i, a in enumerate(_AREAS)),
        ),
        _custom(FIELD_SLA_NOTES, "SLA notes", "textarea", 10055),
        _custom(
            FIELD_SUPPORT_TEAM,
            "Support team",
            "select",
            10056,
            options=(("10300", "l1"), ("10301", "l2"), ("10302", "l3")),
        ),
        _custom(FIELD_SLA_DUE_DATE, "SLA due date", "datepicker", 10057),
        # JSM's fields as GET /rest/api/3/field lists them (a recorded createmeta shows the
        # Organizations schema: {"type": "array", "items": "sd-customerorganization",
        # "custom": "com.atlassian.servicedesk:sd-customer-organizations", "customId": 10002};
        # Request Type's type is "sd-customerrequesttype", custom "...:vp-origin").
        FieldDef(
            FIELD_ORGANIZATIONS,
            "Organizations",
            {
                "type": "array",
                "items": "sd-customerorganization",
                "custom": f"com.atlassian.servicedesk:{ORGANIZATIONS_KIND}",
                "customId": 10002,
            },
        ),
        FieldDef(
            FIELD_REQUEST_TYPE,
            "Request Type",
            {
                "type": "sd-customerrequesttype",
                "custom": f"com.atlassian.servicedesk:{REQUEST_TYPE_KIND}",
                "customId": 10010,
            },
        ),
    ]


def build_dataset(
    seed: int = 0,
    issues: int = 250,
    days: int = 28,
    end: int = DEFAULT_END,
    history: History = "auto",
) -> JiraStore:
    """Generate a deterministic site whose activity ends shortly before ``end``.

    The site is generated against :data:`DEFAULT_END` and moved by whole days towards
    ``end``, so the same ``seed`` gives the same issues whatever ``end`` is.

    Args:
        seed: RNG seed.
        issues: How many issues.
        days: Issues are created over this many days before ``end``.
        end: Unix seconds the data ends by (usually the fake's clock).
        history: ``full`` plays each issue's life (replies, internal notes, waiting for
            the customer, priority changes, resolve, reopen, close); ``minimal`` gives each
            issue at most one transition (cheap, for large benchmarks); ``auto`` is full up
            to 2,000 issues.
    """
    rng = random.Random(seed)
    store = JiraStore()
    base_site(store)
    if history == "auto":
        history = "full" if issues <= 2000 else "minimal"
    shift = (end - DEFAULT_END) // 86400 * 86400
    last = DEFAULT_END - 120
    start = DEFAULT_END - days * 86400
    agents = [u.account_id for u in store.agents() if u.email != ADMIN_EMAIL]
    customers = [u for u in store.users.values() if u.account_type == "customer"]
    created_times = sorted(_business_time(rng, start, last) for _ in range(issues))
    for created in created_times:
        customer = customers[rng.randrange(len(customers))]
        summary, area, prio, itype = _SUBJECTS[rng.randrange(len(_SUBJECTS))]
        if rng.random() < 0.15:
            prio = str(min(5, max(1, int(prio) + rng.choice((-1, 1)))))
        org = customer.email.rsplit("@", 1)[1].split(".")[0]
        tier = next(t for o, t in _ORGS if o == org)
        custom: dict[str, Any] = {
            FIELD_PRODUCT_AREA: str(10200 + _AREAS.index(area)),
            FIELD_CONTRACT_TIER: next(i for i, v in _TIERS if v == tier),
            # The customer's JSM organization, and the request type the portal form set.
            FIELD_ORGANIZATIONS: [next(n for i, n in ORGANIZATIONS if n.lower().startswith(org))],
            FIELD_REQUEST_TYPE: next(r[0] for r in REQUEST_TYPES if r[3] == itype),
        }
        issue = store.new_issue(
            summary=summary,
            description=f"Hello, {summary.rstrip('?').lower()}. Thanks, {customer.display_name}",
            issue_type=itype,
            status="1",
            priority=prio,
            reporter=customer.account_id,
            assignee=None,
            labels=[area, org] + (["vip"] if tier == "gold" else []),
            custom=custom,
            created=(created + shift) * 1000,
        )
        agent = agents[rng.randrange(len(agents))]
        if history == "full":
            _life(rng, store, issue, agents, agent, last, shift)
        else:
            t = created + rng.randrange(600, 3 * 86400)
            if t <= last:
                status = rng.choice(("3", "10001", "5", "5"))
                changes: dict[str, Any] = {"status": status, "assignee": agent}
                if status == "5":
                    changes["resolution"] = "10000"
                store.change(issue, agent, (t + shift) * 1000, changes)
    return store


def _business_time(rng: random.Random, start: int, end: int) -> int:
    """A time in [start, end], mostly on weekdays 08:00-18:00 UTC as real queues are."""
    t = start
    for _ in range(4):
        t = rng.randrange(start, end)
        hour, weekday = (t // 3600) % 24, ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday
        if 8 <= hour < 18 and weekday < 5:
            return t
    return t


def _life(
    rng: random.Random,
    store: JiraStore,
    issue: Issue,
    agents: list[str],
    agent: str,
    last: int,
    shift: int,
) -> None:
    """Play a plausible JSM history forward from creation, stopping at ``last``."""
    speed = {"1": 0.1, "2": 0.4, "3": 1.0, "4": 2.0, "5": 3.0}.get(issue.priority or "", 1.0)
    now = issue.created // 1000 - shift
    customer = issue.reporter

    def step(seconds: float) -> bool:
        nonlocal now
        now += max(60, int(seconds))
        return now <= last

    def act(author: str, text: str | None, public: bool = True, **changes: Any) -> None:
        # A millisecond part makes same-second events of different issues distinct, as real
        # timestamps are.
        ts = (now + shift) * 1000 + rng.randrange(1000)
        if changes:
            store.change(issue, author, ts, changes)
        if text is not None:
            store.comment(issue, author, ts, text, public)

    if not step(rng.expovariate(1 / (3 * 3600)) * speed):
        return
    act(agent, rng.choice(_REPLIES), status="3", assignee=agent)
    for _ in range(rng.choices((0, 1, 2, 3), (30, 35, 25, 10))[0]):
        roll = rng.random()
        if roll < 0.45:  # ask the customer, who answers (JSM moves it back to support)
            if not step(rng.uniform(1800, 4 * 3600) * speed):
                return
            act(agent, "Could you confirm the account and the time you saw this?", status="10001")
            if rng.random() < 0.1 or not step(rng.uniform(1800, 2 * 86400)):
                return
            act(customer, "Here are the details you asked for.", status="3")
        elif roll < 0.65:  # an internal note
            if not step(rng.uniform(1800, 6 * 3600)):
                return
            act(agent, rng.choice(_NOTES), public=False)
        elif roll < 0.8:  # the customer chases
            if not step(rng.uniform(1800, 86400)):
                return
            act(customer, "Any update on this? It is still happening.")
        elif issue.priority in ("3", "4", "5"):  # escalation
            if not step(rng.uniform(900, 4 * 3600)):
                return
            act(
                agent,
                "Internal: raising priority, impact is wider.",
                public=False,
                priority=str(int(issue.priority or "3") - 1),
            )
        else:  # hand-over to another agent
            if not step(rng.uniform(900, 4 * 3600)):
                return
            agent = rng.choice([a for a in agents if a != agent])
            act(agent, "Internal: taking this over.", public=False, assignee=agent)
    if not step(rng.uniform(1800, 8 * 3600) * speed):
        return
    act(
        agent,
        "This should now be fixed. Let us know if anything comes up.",
        status="5",
        resolution="10000",
    )
    if rng.random() < 0.12:  # reopened by the customer
        if not step(rng.uniform(3600, 2 * 86400)):
            return
        act(customer, "Sorry, it is happening again.", status="1", resolution=None)
        if not step(rng.uniform(1800, 6 * 3600) * speed):
            return
        act(agent, "Applied a permanent fix this time.", status="5", resolution="10000")
    if step(3 * 86400):  # an automation rule closes resolved issues after 3 days
        act(AUTOMATION_ID, None, status="6")
