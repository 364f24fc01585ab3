-- Onramp's initial schema for PostgreSQL. Its twin is sqlite/00001_init.sql:
-- same tables, same columns, same indexes.
--
-- Identifiers and indexed strings use the "C" collation: ordering is by byte,
-- as on SQLite, and lower() folds ASCII letters only, as on SQLite, so the
-- case-insensitive comparisons written in SQL give the same answer on both
-- databases.
--
-- userName and group displayName are unique and matched ignoring case for
-- every script (RFC 7643 caseExact false), which neither database's lower()
-- does alike. The store computes a case-folded key in Go (store/fold.go) and
-- writes it with every row: user_name_key and display_name_key hold it, the
-- UNIQUE indexes are on them, and filters compare folded values with them
-- byte by byte.

-- +goose Up
CREATE TABLE users (
    id            text COLLATE "C" NOT NULL PRIMARY KEY,
    user_name     text COLLATE "C" NOT NULL,
    user_name_key text COLLATE "C" NOT NULL,
    external_id   text COLLATE "C",
    display_name  text COLLATE "C",
    active        boolean NOT NULL DEFAULT true,
    version       bigint NOT NULL,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    data          jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object')
);

CREATE UNIQUE INDEX users_user_name_key ON users (user_name_key);
CREATE INDEX users_external_id ON users (external_id);
CREATE INDEX users_last_modified ON users (last_modified);

CREATE TABLE groups (
    id               text COLLATE "C" NOT NULL PRIMARY KEY,
    display_name     text COLLATE "C" NOT NULL,
    display_name_key text COLLATE "C" NOT NULL,
    external_id      text COLLATE "C",
    version          bigint NOT NULL,
    created          timestamptz NOT NULL,
    last_modified    timestamptz NOT NULL,
    data             jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object')
);

CREATE UNIQUE INDEX groups_display_name_key ON groups (display_name_key);
CREATE INDEX groups_external_id ON groups (external_id);
CREATE INDEX groups_last_modified ON groups (last_modified);

-- The single source of truth for membership: a user's groups attribute is
-- computed from it on read.
CREATE TABLE group_members (
    group_id text COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX group_members_user ON group_members (user_id, group_id);

-- API bearer tokens: only the SHA-256 of a secret is kept. scopes is a
-- comma-separated list.
CREATE TABLE tokens (
    name      text COLLATE "C" NOT NULL PRIMARY KEY,
    hash      bytea NOT NULL UNIQUE,
    scopes    text NOT NULL,
    created   timestamptz NOT NULL,
    last_used timestamptz
);

-- Audit lookups filter by one column and read newest first, hence (column, id).
CREATE TABLE audit_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,
    correlation_id text COLLATE "C" NOT NULL DEFAULT '',
    actor          text COLLATE "C" NOT NULL DEFAULT '',
    action         text NOT NULL DEFAULT '',
    resource_type  text NOT NULL DEFAULT '',
    resource_id    text COLLATE "C" NOT NULL DEFAULT '',
    outcome        text NOT NULL DEFAULT '',
    status         integer NOT NULL DEFAULT 0,
    summary        text NOT NULL DEFAULT ''
);

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
