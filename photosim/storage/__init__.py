"""The library's SQLite file: the only place with SQL."""
