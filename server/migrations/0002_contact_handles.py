from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactHandle',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='handles', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='handles', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=10)),
                ('value', fields.CharField(max_length=320)),
            ],
            options={'table': 'contact_handle', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'kind', 'value'], name='contact_handle_lookup'), Index(fields=['contact_id'], name='contact_handle_contact')], 'pk_attr': 'id', 'table_description': 'One normalized email or phone of a contact, indexed for matching incoming contacts.'},
            bases=['Model'],
        ),
    ]
