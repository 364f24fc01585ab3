-- Bundles, rules and enrollments for PostgreSQL. Its twin is
-- sqlite/00002_mapping.sql: same tables, same columns. River's own tables
-- are migrated by River (delivery/), not here.

-- +goose Up
-- A bundle or rule is kept whole as JSON (the shape the admin API and
-- `onramp apply` use); the columns beside it are what queries select on.
CREATE TABLE bundles (
    name          text COLLATE "C" NOT NULL PRIMARY KEY,
    version       bigint NOT NULL,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    data          jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object')
);

-- group_key is the folded displayName a rule matches (store/fold.go), the
-- same key as groups.display_name_key; group_id the SCIM id it matches.
-- Exactly one is set.
CREATE TABLE rules (
    name          text COLLATE "C" NOT NULL PRIMARY KEY,
    group_key     text COLLATE "C",
    group_id      text COLLATE "C",
    version       bigint NOT NULL,
    created       timestamptz NOT NULL,
    last_modified timestamptz NOT NULL,
    data          jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    CHECK ((group_key IS NULL) <> (group_id IS NULL))
);

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
    user_id        text COLLATE "C" NOT NULL,
    connector      text COLLATE "C" NOT NULL,
    course_id      text COLLATE "C" NOT NULL,
    state          text NOT NULL DEFAULT '' CHECK (state IN ('', 'active', 'suspended')),
    pending_op     text NOT NULL DEFAULT '' CHECK (pending_op IN ('', 'enroll', 'suspend', 'unenroll')),
    pending_id     text NOT NULL DEFAULT '',
    pending_since  timestamptz,
    bundles        jsonb NOT NULL DEFAULT '[]',
    user_data      jsonb NOT NULL DEFAULT '{}',
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text NOT NULL DEFAULT '',
    correlation_id text COLLATE "C" NOT NULL DEFAULT '',
    last_modified  timestamptz NOT NULL,
    PRIMARY KEY (user_id, connector, course_id)
);

-- A sync of one user at a time, across replicas: the replica whose sync
-- holds a user's lease until expires is the only one sending that user's
-- changes. (Within one process an in-memory lock does the same.)
CREATE TABLE sync_leases (
    user_id text COLLATE "C" NOT NULL PRIMARY KEY,
    holder  text COLLATE "C" NOT NULL,
    expires timestamptz NOT NULL
);

-- +goose Down
DROP TABLE sync_leases;
DROP TABLE enrollments;
DROP TABLE rules;
DROP TABLE bundles;
