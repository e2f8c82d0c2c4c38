"""One DataLoader per relation, scoped to one request and one workspace."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader
from tortoise.functions import Count

from server.models import Bucket, ContactBucket, ContactTag, Stage, Tag, User, Workspace


class Loaders:
    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.workspace = DataLoader[int, Workspace | None](load_fn=self._workspaces)
        self.stage = DataLoader[int, Stage | None](load_fn=self._stages)
        self.user = DataLoader[int, User | None](load_fn=self._users)
        self.tags_of = DataLoader[int, list[Tag]](load_fn=self._tags_of)
        self.buckets_of = DataLoader[int, list[Bucket]](load_fn=self._buckets_of)
        self.bucket_size = DataLoader[int, int](load_fn=self._bucket_sizes)

    async def _workspaces(self, keys: Sequence[int]) -> list[Workspace | None]:
        rows = await Workspace.filter(id__in=list(keys), id=self.workspace_id)
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _stages(self, keys: Sequence[int]) -> list[Stage | None]:
        rows = await Stage.filter(workspace_id=self.workspace_id, id__in=list(keys))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _users(self, keys: Sequence[int]) -> list[User | None]:
        rows = await User.filter(workspace_id=self.workspace_id, id__in=list(keys))
        by_id = {row.id: row for row in rows}
        return [by_id.get(key) for key in keys]

    async def _tags_of(self, contact_ids: Sequence[int]) -> list[list[Tag]]:
        links = await ContactTag.filter(
            contact_id__in=list(contact_ids), tag__workspace_id=self.workspace_id
        ).select_related("tag")
        grouped: dict[int, list[Tag]] = defaultdict(list)
        for link in links:
            grouped[link.contact_id].append(link.tag)
        return [sorted(grouped[key], key=lambda t: t.name_key) for key in contact_ids]

    async def _buckets_of(self, contact_ids: Sequence[int]) -> list[list[Bucket]]:
        links = await ContactBucket.filter(
            contact_id__in=list(contact_ids), bucket__workspace_id=self.workspace_id
        ).select_related("bucket")
        grouped: dict[int, list[Bucket]] = defaultdict(list)
        for link in links:
            grouped[link.contact_id].append(link.bucket)
        return [sorted(grouped[key], key=lambda b: (b.name, b.id)) for key in contact_ids]

    async def _bucket_sizes(self, bucket_ids: Sequence[int]) -> list[int]:
        rows = (
            await ContactBucket.filter(bucket_id__in=list(bucket_ids))
            .annotate(size=Count("id"))
            .group_by("bucket_id")
            .values_list("bucket_id", "size")
        )
        sizes = {int(bucket_id): int(size) for bucket_id, size in rows}
        return [sizes.get(key, 0) for key in bucket_ids]
