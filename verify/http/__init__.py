"""The web layer: the Starlette app, its JSON API and server-rendered pages. Imports services and
the domain; never SQL modules."""
