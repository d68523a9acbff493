"""The database layer: the embedded PostgreSQL cluster, the migrations, and every SQL statement,
one module per aggregate. May import the domain layer; only this layer imports asyncpg."""
