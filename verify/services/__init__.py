"""Use cases shared by the HTTP app and the CLI: import, publish, lookup, institutions, keys, the
status view, demo and seed data. They own the transactions; they may import every layer below."""
