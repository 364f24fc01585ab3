-- Onramp's initial schema for SQLite. Its twin is postgres/00001_init.sql:
-- same tables, same columns, same indexes.
--
-- Tables are STRICT, so a value of the wrong type is an error rather than
-- silently stored. Timestamps are TEXT in one fixed-width UTC format
-- ("2006-01-02T15:04:05.000000Z", written by the store) so that text order is
-- time order. Booleans are INTEGER 0 or 1.
--
-- userName and group displayName are unique and matched ignoring case for
-- every script (RFC 7643 caseExact false), which SQLite's lower() and LIKE do
-- for ASCII only. The store computes a case-folded key in Go (store/fold.go)
-- and writes it with every row: user_name_key and display_name_key hold it,
-- the UNIQUE indexes are on them, and filters compare folded values with them
-- byte by byte (the BINARY collation).

-- +goose Up
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_name     TEXT    NOT NULL,
    user_name_key TEXT    NOT NULL,
    external_id   TEXT,
    display_name  TEXT,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    version       INTEGER NOT NULL,
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    data          TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object')
) STRICT;

CREATE UNIQUE INDEX users_user_name_key ON users (user_name_key);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_last_modified ON users (last_modified);

CREATE TABLE groups (
    id               TEXT    NOT NULL PRIMARY KEY,
    display_name     TEXT    NOT NULL,
    display_name_key TEXT    NOT NULL,
    external_id      TEXT,
    version          INTEGER NOT NULL,
    created          TEXT    NOT NULL,
    last_modified    TEXT    NOT NULL,
    data             TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object')
) STRICT;

CREATE UNIQUE INDEX groups_display_name_key ON groups (display_name_key);
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_last_modified ON groups (last_modified);

-- The single source of truth for membership: a user's groups attribute is
-- computed from it on read.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX group_members_user ON group_members (user_id, group_id);

-- API bearer tokens: only the SHA-256 of a secret is kept. scopes is a
-- comma-separated list.
CREATE TABLE tokens (
    name      TEXT NOT NULL PRIMARY KEY,
    hash      BLOB NOT NULL UNIQUE,
    scopes    TEXT NOT NULL,
    created   TEXT NOT NULL,
    last_used TEXT
) STRICT;

-- AUTOINCREMENT: an id is never reused, even after old events are purged.
-- Audit lookups filter by one column and read newest first, hence (column, id).
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT    NOT NULL,
    correlation_id TEXT    NOT NULL DEFAULT '',
    actor          TEXT    NOT NULL DEFAULT '',
    action         TEXT    NOT NULL DEFAULT '',
    resource_type  TEXT    NOT NULL DEFAULT '',
    resource_id    TEXT    NOT NULL DEFAULT '',
    outcome        TEXT    NOT NULL DEFAULT '',
    status         INTEGER NOT NULL DEFAULT 0,
    summary        TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_events_correlation_id ON audit_events (correlation_id, id);
CREATE INDEX audit_events_resource_id ON audit_events (resource_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE tokens;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
