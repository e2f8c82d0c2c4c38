"""A demo workspace: people, ~300 contacts across the lifecycle, tags, buckets and history.

Deterministic (a seeded random generator) apart from the dates, which are relative to now.
Archived contacts obey the rules like any other: no assignee, no stage or a PAST/LOST one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from server import handles
from server.auth import create_user, ensure_workspace
from server.contact_text import display_name, search_text, sort_name
from server.db import transaction
from server.directory import Criteria
from server.models import (
    Bucket,
    Contact,
    ContactBucket,
    ContactTag,
    Direction,
    Interaction,
    InteractionKind,
    SavedAudience,
    Stage,
    Tag,
    User,
)
from server.policy import ContactStatus, Role, StageCategory

DEMO_WORKSPACE = "Demo"
DEMO_ADMIN_EMAIL = "admin@demo.example"
CONTACT_COUNT = 300
SEED = 7

MEMBERS = (
    ("Maya Patel", "maya@demo.example"),
    ("Jonas Weber", "jonas@demo.example"),
    ("Lucia Fernandez", "lucia@demo.example"),
)
VIEWER = ("Sam Okafor", "sam@demo.example")

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Beatriz", "Ben", "Carlos", "Chen", "Chloe",
    "Daniel", "Dmitri", "Elena", "Emma", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines",
    "Isaac", "Jack", "Jana", "Kofi", "Laura", "Leo", "Lina", "Marco", "Maria", "Mateo",
    "Mia", "Nadia", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Rosa", "Ruth", "Samir",
    "Sara", "Sofia", "Tariq", "Theo", "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Almeida", "Bauer", "Becker", "Brown", "Castillo", "Chen", "Clarke", "Costa",
    "Dubois", "Eriksen", "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann", "Ito", "Jansen",
    "Kim", "Kowalski", "Lambert", "Larsen", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura",
    "Nguyen", "Novak", "Okoye", "Olsen", "Park", "Petrov", "Quinn", "Rossi", "Santos",
    "Schmidt", "Silva", "Singh", "Tanaka", "Torres", "Vogel", "Wagner", "Walsh", "Wong",
    "Yilmaz", "Zhang",
)  # fmt: skip
# (name, email domain)
COMPANIES = (
    ("Northwind Traders", "northwind.example"),
    ("Contoso", "contoso.example"),
    ("Fabrikam", "fabrikam.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella-health.example"),
    ("Stark Logistics", "stark-logistics.example"),
    ("Wayne Foods", "waynefoods.example"),
    ("Tyrell Robotics", "tyrell.example"),
    ("Soylent Labs", "soylent.example"),
    ("Hooli", "hooli.example"),
    ("Pied Piper", "piedpiper.example"),
    ("Vandelay Industries", "vandelay.example"),
    ("Acme Corporation", "acme.example"),
    ("Blue Harbor Capital", "blueharbor.example"),
    ("Greenfield Energy", "greenfield.example"),
    ("Lumen Analytics", "lumen.example"),
    ("Orbit Travel", "orbit-travel.example"),
    ("Riverbend Bank", "riverbend.example"),
    ("Summit Ventures", "summit-ventures.example"),
    ("Atlas Architects", "atlas-arch.example"),
    ("Kestrel Media", "kestrel.example"),
    ("Maple & Oak Law", "mapleoak.example"),
    ("Nimbus Cloud", "nimbus.example"),
    ("Helios Solar", "helios.example"),
)
TITLES = (
    "CEO", "CTO", "CFO", "COO", "VP Sales", "VP Marketing", "Head of Partnerships",
    "Procurement Manager", "Engineering Manager", "Product Manager", "Account Executive",
    "Operations Lead", "Founder", "Managing Partner", "Office Manager", "Designer",
    "Data Scientist", "Board Member", "Investor Relations", "Consultant",
)  # fmt: skip
TAGS = ("vip", "newsletter", "partner", "investor", "conference-2026")
TAG_WEIGHTS = {"vip": 0.12, "newsletter": 0.45, "partner": 0.15, "investor": 0.08}
CONFERENCE_SHARE = 0.2
BUCKETS = ("Q1 follow-ups", "Holiday cards", "Board")

SUBJECTS: dict[InteractionKind, tuple[str, ...]] = {
    InteractionKind.EMAIL: (
        "Intro and next steps",
        "Proposal attached",
        "Re: pricing question",
        "Following up on our call",
        "Thanks for meeting",
        "Contract renewal",
    ),
    InteractionKind.CALL: ("Discovery call", "Quick check-in", "Pricing call", "Support call"),
    InteractionKind.MESSAGE: ("Running late", "Confirmed for Tuesday", "Thanks!", "Call me back"),
    InteractionKind.MEETING: ("Coffee", "Quarterly review", "Demo", "Lunch", "Board prep"),
    InteractionKind.NOTE: ("Prefers email", "Met at the conference", "Budget in Q3", "Referral"),
}
BODIES = (
    "Talked through their roadmap; interested in the annual plan.",
    "Asked for a case study from their industry.",
    "Waiting for their legal team to review the terms.",
    "Introduced us to their head of operations.",
    "Not a priority this quarter; check back later.",
    "Very positive; wants a follow-up with the team.",
    None,
)


@dataclass
class _Spec:
    """One demo contact before it has an ID, with what gets linked to it afterwards."""

    contact: Contact
    tags: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    interactions: int = 0

    @property
    def key(self) -> str:
        """Unique within the demo: its first email, else its first phone."""
        return (self.contact.emails or self.contact.phones)[0]


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalpha())


async def fill_demo(workspace_name: str = DEMO_WORKSPACE) -> str:
    """Fill a new workspace with demo data; returns an API token of its ADMIN.

    Raises BadUserInput when the workspace has its demo admin already.
    """
    rng = random.Random(SEED)  # noqa: S311 (demo data, not secrets)
    now = datetime.now(UTC)
    async with transaction():
        workspace = await ensure_workspace(workspace_name)
        admin, token = await create_user(workspace.name, DEMO_ADMIN_EMAIL, "Demo Admin", Role.ADMIN)
        members: list[User] = []
        for name, email in MEMBERS:
            user, _ = await create_user(workspace.name, email, name, Role.MEMBER)
            members.append(user)
        await create_user(workspace.name, VIEWER[1], VIEWER[0], Role.VIEWER)
        stages = {
            StageCategory(stage.category): stage
            for stage in await Stage.filter(workspace=workspace)
        }

        specs = _contacts(rng, now, workspace.id, stages, members)
        await Contact.bulk_create([spec.contact for spec in specs], batch_size=500)
        # bulk_create leaves primary keys unset: read them back by each contact's unique key.
        saved = await Contact.filter(workspace_id=workspace.id)
        by_key = {(c.emails or c.phones)[0]: c for c in saved}
        for spec in specs:
            spec.contact = by_key[spec.key]
        contacts = [spec.contact for spec in specs]
        await handles.reindex(workspace.id, contacts, fresh=True)

        await Tag.bulk_create(
            [Tag(workspace_id=workspace.id, name=name, name_key=name.casefold()) for name in TAGS]
        )
        tags = {t.name: t for t in await Tag.filter(workspace_id=workspace.id)}
        await ContactTag.bulk_create(
            [
                ContactTag(contact_id=spec.contact.id, tag_id=tags[name].id)
                for spec in specs
                for name in spec.tags
            ],
            batch_size=1000,
        )

        for name in BUCKETS:
            await Bucket.create(workspace_id=workspace.id, name=name)
        buckets = {b.name: b for b in await Bucket.filter(workspace_id=workspace.id)}
        await ContactBucket.bulk_create(
            [
                ContactBucket(contact_id=spec.contact.id, bucket_id=buckets[name].id)
                for spec in specs
                for name in spec.buckets
            ],
            batch_size=1000,
        )

        await Interaction.bulk_create(
            [
                interaction
                for spec in specs
                for interaction in _interactions(rng, now, spec.contact, spec.interactions)
            ],
            batch_size=1000,
        )

        await SavedAudience.create(
            workspace_id=workspace.id,
            owner=admin,
            name="VIPs",
            criteria=Criteria(status=ContactStatus.ACTIVE, tag_ids=(tags["vip"].id,)).to_json(),
        )
        await SavedAudience.create(
            workspace_id=workspace.id,
            owner=admin,
            name="Ready to archive",
            criteria=Criteria(status=ContactStatus.ACTIVE, archivable=True).to_json(),
        )
    return token


def _contacts(
    rng: random.Random,
    now: datetime,
    workspace_id: int,
    stages: dict[StageCategory, Stage],
    members: list[User],
) -> list[_Spec]:
    specs: list[_Spec] = []
    used_emails: set[str] = set()
    used_phones: set[str] = set()
    for _ in range(CONTACT_COUNT):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        company, domain = rng.choice(COMPANIES) if rng.random() < 0.9 else (None, "mail.example")
        title = rng.choice(TITLES) if company and rng.random() < 0.85 else None

        emails: list[str] = []
        phones: list[str] = []
        if rng.random() < 0.95:
            local = f"{_slug(first)}.{_slug(last)}"
            email, n = f"{local}@{domain}", 1
            while email in used_emails:
                n += 1
                email = f"{local}{n}@{domain}"
            emails.append(email)
            if company and rng.random() < 0.08:
                personal = f"{_slug(first)}{_slug(last)}{rng.randint(1, 99)}@mail.example"
                if personal not in used_emails:
                    emails.append(personal)
        if not emails or rng.random() < 0.75:
            phone = f"+1555{rng.randint(0, 9_999_999):07d}"
            while phone in used_phones:
                phone = f"+1555{rng.randint(0, 9_999_999):07d}"
            phones.append(phone)
        used_emails.update(emails)
        used_phones.update(phones)

        archived = rng.random() < 0.15
        if archived:
            # Archived contacts obey the rules: no assignee, no stage or a PAST/LOST one.
            category = rng.choice((None, StageCategory.PAST, StageCategory.LOST))
            assignee = None
        else:
            category = None if rng.random() < 0.2 else rng.choice(list(StageCategory))
            assignee = rng.choice(members) if rng.random() < 0.35 else None

        created_at = now - timedelta(days=rng.uniform(60, 730))
        updated_at = created_at + (now - created_at) * rng.uniform(0.1, 1.0)
        contact = Contact(
            workspace_id=workspace_id,
            first_name=first,
            last_name=last,
            company=company,
            title=title,
            emails=emails,
            phones=phones,
            sort_name=sort_name(display_name(first, last, emails, phones)),
            search_text=search_text(first, last, company, emails, phones),
            status=ContactStatus.ARCHIVED if archived else ContactStatus.ACTIVE,
            archived_at=updated_at if archived else None,
            stage_id=stages[category].id if category else None,
            assignee_id=assignee.id if assignee else None,
            created_at=created_at,
            updated_at=updated_at,
        )
        spec = _Spec(contact, interactions=rng.choice((0, 1, 2, 3, 3, 4, 5, 6)))
        spec.tags = [name for name, share in TAG_WEIGHTS.items() if rng.random() < share]
        if rng.random() < CONFERENCE_SHARE:
            spec.tags.append("conference-2026")
        if not archived and rng.random() < 0.15:
            spec.buckets.append("Q1 follow-ups")
        if rng.random() < 0.2:
            spec.buckets.append("Holiday cards")
        if title in {"CEO", "CFO", "Board Member", "Managing Partner"} and rng.random() < 0.6:
            spec.buckets.append("Board")
        specs.append(spec)
    return specs


def _interactions(
    rng: random.Random, now: datetime, contact: Contact, count: int
) -> list[Interaction]:
    kinds = list(InteractionKind)
    # Over the last year, and never before the contact was added.
    earliest = max(contact.created_at, now - timedelta(days=365))
    span = (now - earliest).total_seconds()
    made: list[Interaction] = []
    for _ in range(count):
        kind = rng.choice(kinds)
        direction = (
            Direction.OUTBOUND if kind is InteractionKind.NOTE else rng.choice(list(Direction))
        )
        made.append(
            Interaction(
                workspace_id=contact.workspace_id,
                contact_id=contact.id,
                kind=kind.value,
                direction=direction.value,
                occurred_at=earliest + timedelta(seconds=rng.uniform(0, span)),
                subject=rng.choice(SUBJECTS[kind]),
                body=rng.choice(BODIES),
            )
        )
    return made
