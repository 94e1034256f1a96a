# The Postgres fixtures live with the Postgres tests; reusing them keeps one way of finding a
# server, skipping with a reason and dropping this session's schemas.
from tests.postgres.conftest import pg_schema, pg_url  # noqa: F401
