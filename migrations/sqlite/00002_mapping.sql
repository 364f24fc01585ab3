-- Bundles, rules and enrollments for SQLite. Its twin is
-- postgres/00002_mapping.sql. River's own tables are migrated by River
-- (delivery/), not here.

-- +goose Up
-- A bundle or rule is kept whole as JSON (the shape the admin API and
-- `onramp apply` use); the columns beside it are what queries select on.
CREATE TABLE bundles (
    name          TEXT    NOT NULL PRIMARY KEY,
    version       INTEGER NOT NULL,
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    data          TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object')
) STRICT;

-- group_key is the folded displayName a rule matches (store/fold.go), the
-- same key as groups.display_name_key; group_id the SCIM id it matches.
-- Exactly one is set.
CREATE TABLE rules (
    name          TEXT    NOT NULL PRIMARY KEY,
    group_key     TEXT,
    group_id      TEXT,
    version       INTEGER NOT NULL,
    created       TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    data          TEXT    NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object'),
    CHECK ((group_key IS NULL) <> (group_id IS NULL))
) STRICT;

CREATE INDEX rules_group_key ON rules (group_key);
CREATE INDEX rules_group_id ON rules (group_id);

-- What each LMS holds, as far as Onramp knows, per user and course. No
-- foreign key to users: a deleted user's enrollments stay until they have
-- been removed from the LMS, and user_data keeps who they were.
--
-- state is what the LMS is known to hold ('' none, active, suspended).
-- pending_op and pending_id record a change sent, or about to be sent, and
-- not yet confirmed: after a crash the next run sends it again under the
-- same id, which is what makes deliveries idempotent end to end.
CREATE TABLE enrollments (
    user_id        TEXT    NOT NULL,
    connector      TEXT    NOT NULL,
    course_id      TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT '' CHECK (state IN ('', 'active', 'suspended')),
    pending_op     TEXT    NOT NULL DEFAULT '' CHECK (pending_op IN ('', 'enroll', 'suspend', 'unenroll')),
    pending_id     TEXT    NOT NULL DEFAULT '',
    pending_since  TEXT,
    bundles        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(bundles)),
    user_data      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(user_data)),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT    NOT NULL DEFAULT '',
    correlation_id TEXT    NOT NULL DEFAULT '',
    last_modified  TEXT    NOT NULL,
    PRIMARY KEY (user_id, connector, course_id)
) STRICT, WITHOUT ROWID;

-- A sync of one user at a time, across replicas: the replica whose sync
-- holds a user's lease until expires is the only one sending that user's
-- changes. (Within one process an in-memory lock does the same; SQLite is
-- served by one process, so the table is only used on PostgreSQL, but both
-- schemas have it.)
CREATE TABLE sync_leases (
    user_id TEXT NOT NULL PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE sync_leases;
DROP TABLE enrollments;
DROP TABLE rules;
DROP TABLE bundles;
