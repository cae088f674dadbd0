-- POST /Users: what one create costs the database, statement for statement as
-- UserService.create runs it (src/services/users.ts, src/db/resources.ts
-- insertStatement, src/events/record.ts → src/db/outbox.ts insertEvents): one
-- statement, atomic on its own (no BEGIN/COMMIT), that inserts the user row
-- with its JSONB and column mirrors, takes the per-resource event number and
-- writes the outbox event (plus its deliveries, none without webhook endpoints). {{…}} and the JSON variables (resource, event_data,
-- event_resource) come from bench/lib/pgbench.ts, built with bench/lib/dataset.ts.
\set r random(1, 9000000000000000000)
WITH rw AS (
  INSERT INTO users (tenant_id, id, user_name, external_id, active, display_name, given_name, family_name, email_values, resource, created, last_modified, version)
  VALUES (:tenant, md5('pgb-' || :client_id || '-' || :r)::uuid, 'pgb-' || :r || '@contoso.example', md5('ext-' || :r), true,
          'Ada Abbott', 'Ada', 'Abbott', array['pgb-' || :r || '@mail.contoso.example']::text[], :resource::jsonb, now(), now(), 1)
), s AS (
  INSERT INTO event_sequences (tenant_id, resource_id, last_seq) VALUES (:tenant, md5('pgb-' || :client_id || '-' || :r)::uuid::text, 1)
  ON CONFLICT (tenant_id, resource_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq
  RETURNING last_seq
), x AS (
  SELECT r.uid, r.type, r.ord, r.data, r.resource, (SELECT last_seq FROM s) - 1 + r.ord AS seq
  FROM jsonb_to_recordset(jsonb_build_array(jsonb_build_object('uid', 'evt_' || md5('evt-' || :client_id || '-' || :r), 'type', 'user.created', 'ord', 1,
         'data', :event_data::jsonb, 'resource', :event_resource::jsonb)))
       AS r(uid text, type text, ord int, data jsonb, resource jsonb)
), ev AS (
  INSERT INTO events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource)
  SELECT x.uid, :tenant, x.type, 'User', md5('pgb-' || :client_id || '-' || :r)::uuid::text, x.seq, md5('txn-' || :r), x.data || jsonb_build_object('sequence', x.seq), x.resource
  FROM x ORDER BY x.ord
  RETURNING id, type
), dl AS (
  INSERT INTO webhook_deliveries (event_id, endpoint_id, resource_id)
  SELECT ev.id, w.id, md5('pgb-' || :client_id || '-' || :r)::uuid::text
  FROM ev JOIN webhook_endpoints w ON w.tenant_id = :tenant AND w.enabled AND (w.events IS NULL OR ev.type = ANY (w.events))
  ORDER BY ev.id, w.id
  RETURNING endpoint_id
)
SELECT (SELECT count(*) FROM dl) AS deliveries;
