"""Alembic environment shared by the core and every plugin.

``core.migrate`` hands in the connection, the metadata and the version table: the core keeps
``alembic_version``, each plugin ``alembic_version_<plugin>`` (Indico's scheme), so branches of
different distributions never meet.
"""

from alembic import context

config = context.config
connection = config.attributes["connection"]
metadata = config.attributes["metadata"]


def include_object(obj, name, type_, reflected, compare_to):
    # Each branch owns only its own metadata's tables; the others' are not "removed".
    if type_ == "table":
        return name in metadata.tables
    return True


context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=config.attributes.get("version_table", "alembic_version"),
    include_object=include_object,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
