from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.policy import ContactStatus, Role, StageCategory
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Workspace',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('phone_region', fields.CharField(default='US', max_length=2)),
                ('secret', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'workspace', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Bucket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='buckets', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'bucket', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'name'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Stage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='stages', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('category', fields.CharEnumField(description='LEAD: lead\nPOTENTIAL: potential\nACTIVE: active\nPAST: past\nLOST: lost', enum_type=StageCategory, max_length=10)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'stage', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'position'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Suppression',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='suppressions', on_delete=OnDelete.CASCADE)),
                ('digest', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'suppression', 'app': 'models', 'unique_together': (('workspace', 'digest'),), 'pk_attr': 'id', 'table_description': 'A one-way hash of an address or source ID whose contact was deleted with preventResync.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='tags', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('name_key', fields.CharField(max_length=100)),
            ],
            options={'table': 'tag', 'app': 'models', 'unique_together': (('workspace', 'name_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='users', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(max_length=320)),
                ('name', fields.CharField(max_length=200)),
                ('role', fields.CharEnumField(description='ADMIN: admin\nMEMBER: member\nVIEWER: viewer', enum_type=Role, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'app_user', 'app': 'models', 'unique_together': (('workspace', 'email'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(default='api', max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Contact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.CASCADE)),
                ('first_name', fields.CharField(null=True, max_length=200)),
                ('last_name', fields.CharField(null=True, max_length=200)),
                ('company', fields.CharField(null=True, max_length=200)),
                ('title', fields.CharField(null=True, max_length=200)),
                ('emails', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('phones', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('sort_name', fields.CharField(default='', max_length=320)),
                ('search_text', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=ContactStatus.ACTIVE, description='ACTIVE: active\nARCHIVED: archived', enum_type=ContactStatus, max_length=10)),
                ('stage', fields.ForeignKeyField('models.Stage', source_field='stage_id', null=True, db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.SET_NULL)),
                ('assignee', fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_contacts', on_delete=OnDelete.SET_NULL)),
                ('source', fields.CharField(null=True, max_length=10)),
                ('source_account', fields.CharField(null=True, max_length=200)),
                ('external_id', fields.CharField(null=True, max_length=200)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'contact', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'status', 'id'], name='contact_ws_status_id'), Index(fields=['workspace_id', 'sort_name', 'id'], name='contact_ws_sort_name'), Index(fields=['workspace_id', 'created_at', 'id'], name='contact_ws_created'), Index(fields=['workspace_id', 'updated_at', 'id'], name='contact_ws_updated'), Index(fields=['workspace_id', 'archived_at', 'id'], name='contact_ws_archived'), Index(fields=['workspace_id', 'assignee_id'], name='contact_ws_assignee'), Index(fields=['workspace_id', 'stage_id'], name='contact_ws_stage'), Index(fields=['workspace_id', 'source', 'source_account', 'external_id'], name='contact_ws_origin')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContactBucket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='bucket_links', on_delete=OnDelete.CASCADE)),
                ('bucket', fields.ForeignKeyField('models.Bucket', source_field='bucket_id', db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'contact_bucket', 'app': 'models', 'unique_together': (('contact', 'bucket'),), 'indexes': [Index(fields=['bucket_id', 'contact_id'], name='contact_bucket_by_bucket')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContactTag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='tag_links', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('models.Tag', source_field='tag_id', db_constraint=True, to_field='id', related_name='contact_links', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'contact_tag', 'app': 'models', 'unique_together': (('contact', 'tag'),), 'indexes': [Index(fields=['tag_id', 'contact_id'], name='contact_tag_by_tag')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Interaction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=10)),
                ('direction', fields.CharField(max_length=10)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('subject', fields.CharField(null=True, max_length=500)),
                ('body', fields.TextField(null=True, unique=False)),
                ('channel', fields.CharField(null=True, max_length=10)),
                ('delivery_status', fields.CharField(null=True, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'interaction', 'app': 'models', 'indexes': [Index(fields=['contact_id', 'occurred_at', 'id'], name='interaction_contact_time'), Index(fields=['delivery_status', 'id'], name='interaction_outbox')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedAudience',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='audiences', on_delete=OnDelete.CASCADE)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='audiences', on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(max_length=200)),
                ('criteria', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'saved_audience', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
