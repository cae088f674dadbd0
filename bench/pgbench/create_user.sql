-- POST /Users: what one create costs the database, statement for statement as
-- UserService.create sends it (src/services/users.ts, src/db/resources.ts
-- insertStatement, src/events/record.ts → src/db/outbox.ts insertEvents): one
-- statement, atomic on its own (no BEGIN/COMMIT), that inserts the user row
-- with its JSONB and column mirrors, takes the per-resource event number and
-- writes the outbox event from the same JSON parameter shape, its deliveries
-- and queue counters (none without webhook endpoints) and the NOTIFY
-- (the recordCreated placeholder: recordEventSql in bench/lib/pgbench.ts, shared with
-- patch_user.sql as insertEvents is shared in Roster).
-- Placeholders and the JSON variables (resource, event_rows) come from
-- bench/lib/pgbench.ts, built with bench/lib/dataset.ts.
\set r random(1, 9000000000000000000)
WITH rw AS (
  INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name, given_name, family_name, email_values, resource, created, last_modified, version)
  VALUES (:tenant, md5('pgb-' || :client_id || '-' || :r)::uuid, 'pgb-' || :r || '@contoso.example', md5('ext-' || :r), true,
          'Ada Abbott', 'Ada', 'Abbott', array['pgb-' || :r || '@mail.contoso.example']::text[], :resource::jsonb, now(), now(), 1)
), {{recordCreated}}
