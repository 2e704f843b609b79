-- e2e/parts/pg-seed.sql: a small, deterministic tenant database for the e2e scenarios
-- (43-postgres-real; the backup and restore scenarios). Run it once on an empty database:
-- e2e/scenarios/lib.sh pg_seed does, or drop it in /docker-entrypoint-initdb.d.
-- The row counts are in e2e/parts/pg-seed.counts (pg_seed_check compares them). Every value
-- is derived from generate_series, so two seeded databases have the same content (the same
-- pg_digest), whatever the time or the host. Types a dump must carry: serial keys and their
-- sequences, foreign keys, non-ASCII text, timestamptz, numeric, bytea, jsonb, a NULL.
\set ON_ERROR_STOP on
BEGIN;

CREATE TABLE campaign (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('inbound', 'dialer', 'manual', 'preview')),
    created timestamptz NOT NULL,
    settings jsonb NOT NULL
);

CREATE TABLE agent (
    id serial PRIMARY KEY,
    username text NOT NULL UNIQUE,
    full_name text NOT NULL,
    sip_extension integer NOT NULL UNIQUE
);

CREATE TABLE contact (
    id serial PRIMARY KEY,
    campaign_id integer NOT NULL REFERENCES campaign (id),
    phone text NOT NULL,
    name text,
    data jsonb NOT NULL
);
CREATE INDEX contact_campaign ON contact (campaign_id);

CREATE TABLE call_log (
    id bigserial PRIMARY KEY,
    campaign_id integer NOT NULL REFERENCES campaign (id),
    agent_id integer REFERENCES agent (id),
    contact_id integer REFERENCES contact (id),
    started timestamptz NOT NULL,
    duration numeric(8, 2) NOT NULL,
    disposition text NOT NULL,
    recording bytea
);

INSERT INTO campaign (name, kind, created, settings)
SELECT 'campaña ' || i,
       (ARRAY['inbound', 'dialer', 'manual', 'preview'])[1 + i % 4],
       timestamptz '2024-01-01 09:00:00-03' + i * interval '1 day',
       jsonb_build_object('queue', 'q' || i, 'wrapup', 10 + i, 'moh', i % 2 = 0)
FROM generate_series(1, 4) AS i;

INSERT INTO agent (username, full_name, sip_extension)
SELECT 'agent' || i, 'Agente Número ' || i, 1000 + i
FROM generate_series(1, 12) AS i;

INSERT INTO contact (campaign_id, phone, name, data)
SELECT 1 + i % 4,
       '+54351' || lpad(i::text, 7, '0'),
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'Contacto ' || i END,
       jsonb_build_object('city', (ARRAY['Córdoba', 'Rosario', 'Mendoza'])[1 + i % 3], 'n', i)
FROM generate_series(1, 300) AS i;

INSERT INTO call_log (campaign_id, agent_id, contact_id, started, duration, disposition, recording)
SELECT 1 + i % 4,
       CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + i % 12 END,
       1 + i % 300,
       timestamptz '2024-03-01 08:00:00-03' + i * interval '37 seconds',
       round((i % 613) * 1.37, 2),
       (ARRAY['answered', 'busy', 'no-answer', 'failed'])[1 + i % 4],
       CASE WHEN i % 5 = 0 THEN decode(md5(i::text), 'hex') END
FROM generate_series(1, 1000) AS i;

COMMIT;
