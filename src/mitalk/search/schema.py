"""The full-text indexes of search, which live in the database but not in the models.

SQLite: FTS5 *external-content* tables (``search_people`` over ``profiles``, ``search_rooms``
over ``rooms``, keyed by the content table's rowid) kept in sync by triggers. PostgreSQL: a
generated ``search_vector tsvector`` column on each table with a GIN index. Both are created
by migration 0300 from the statements below, so the migration and the tests read one source.

Beware on SQLite: re-creating ``profiles`` or ``rooms`` (Alembic's batch mode does that for
some ALTERs) drops these triggers and renumbers rowids: such a migration must run
``sqlite_drop()`` first and ``sqlite_create()`` after, which also rebuilds the index.
"""

from __future__ import annotations

from typing import Literal

# What each index covers; weights: name first, then work, then tags.
PEOPLE_COLUMNS = ("name", "headline", "company", "role", "industry", "skills", "open_to")
ROOM_COLUMNS = ("title", "topics")

SEARCH_TABLE_PREFIX = "search_"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEXES = frozenset({"ix_profiles_search", "ix_rooms_search"})


def _fts(table: str, content: str, columns: tuple[str, ...]) -> list[str]:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        # prefix='2 3': short type-ahead prefixes are answered from their own index.
        (
            f"CREATE VIRTUAL TABLE {table} USING fts5({cols}, content='{content}', "
            f"content_rowid='rowid', tokenize='unicode61', prefix='2 3')"
        ),
        (
            f"CREATE TRIGGER {table}_ai AFTER INSERT ON {content} BEGIN "
            f"INSERT INTO {table}(rowid, {cols}) VALUES (new.rowid, {new}); END"
        ),
        (
            f"CREATE TRIGGER {table}_ad AFTER DELETE ON {content} BEGIN "
            f"INSERT INTO {table}({table}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); END"
        ),
        (
            f"CREATE TRIGGER {table}_au AFTER UPDATE OF {cols} ON {content} BEGIN "
            f"INSERT INTO {table}({table}, rowid, {cols}) VALUES ('delete', old.rowid, {old}); "
            f"INSERT INTO {table}(rowid, {cols}) VALUES (new.rowid, {new}); END"
        ),
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    ]


def sqlite_create() -> list[str]:
    """Statements that create (and fill) the FTS5 indexes and their triggers."""
    return _fts("search_people", "profiles", PEOPLE_COLUMNS) + _fts(
        "search_rooms", "rooms", ROOM_COLUMNS
    )


def sqlite_drop() -> list[str]:
    """Statements that drop them again."""
    out = []
    for table in ("search_people", "search_rooms"):
        out += [f"DROP TRIGGER IF EXISTS {table}_{t}" for t in ("ai", "ad", "au")]
        out.append(f"DROP TABLE IF EXISTS {table}")
    return out


_PEOPLE_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(company, '') || ' ' || coalesce(role, '') "
    "|| ' ' || coalesce(headline, '')), 'B') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(industry, '') || ' ' "
    "|| coalesce(skills::text, '') "
    "|| ' ' || coalesce(open_to::text, '')), 'C')"
)
_ROOMS_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, coalesce(topics::text, '')), 'B')"
)


def postgres_create() -> list[str]:
    """Statements that add the generated tsvector columns and their GIN indexes."""
    return [
        (
            f"ALTER TABLE profiles ADD COLUMN {SEARCH_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({_PEOPLE_VECTOR}) STORED"
        ),
        f"CREATE INDEX ix_profiles_search ON profiles USING gin ({SEARCH_COLUMN})",
        (
            f"ALTER TABLE rooms ADD COLUMN {SEARCH_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({_ROOMS_VECTOR}) STORED"
        ),
        f"CREATE INDEX ix_rooms_search ON rooms USING gin ({SEARCH_COLUMN})",
    ]


def postgres_drop() -> list[str]:
    """Statements that drop them again."""
    return [
        "DROP INDEX IF EXISTS ix_profiles_search",
        f"ALTER TABLE profiles DROP COLUMN IF EXISTS {SEARCH_COLUMN}",
        "DROP INDEX IF EXISTS ix_rooms_search",
        f"ALTER TABLE rooms DROP COLUMN IF EXISTS {SEARCH_COLUMN}",
    ]


def is_search_object(
    name: str | None,
    type_: Literal[
        "schema", "table", "column", "index", "unique_constraint", "foreign_key_constraint"
    ]
    | str,
) -> bool:
    """Whether a reflected object belongs to the search indexes (the models do not declare them)."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(SEARCH_TABLE_PREFIX)
    if type_ == "column":
        return name == SEARCH_COLUMN
    if type_ == "index":
        return name in SEARCH_INDEXES
    return False


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: compare everything but the search indexes."""
    return not is_search_object(name, type_)
