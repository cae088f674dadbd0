-- POST /Users: what one create costs the database, statement for statement as
-- UserService.create sends it (src/services/users.ts, src/db/resources.ts
-- insertStatement, src/events/record.ts → src/db/outbox.ts insertEvents): one
-- statement, atomic on its own (no BEGIN/COMMIT), that inserts the user row
-- with its JSONB and column mirrors, takes the per-resource event number and
-- writes the outbox event from the same JSON parameter shape, its deliveries
-- and queue counters (none without webhook endpoints) and the NOTIFY.
-- {{…}} and the JSON variables (resource, event_rows) come from
-- bench/lib/pgbench.ts, built with bench/lib/dataset.ts.
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
  SELECT 'evt_' || md5('evt-create-' || :client_id || '-' || :r) AS uid, 'user.created' AS type, r.ord, r.data, r.resource, (SELECT last_seq FROM s) - 1 + r.ord AS seq
  FROM json_to_recordset(:event_rows::json) AS r(uid text, type text, ord int, data jsonb, resource json)
), ev AS (
  INSERT INTO events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource)
  SELECT x.uid, :tenant, x.type, 'User', md5('pgb-' || :client_id || '-' || :r)::uuid::text, x.seq, md5('txn-create-' || :client_id || '-' || :r), x.data || jsonb_build_object('sequence', x.seq), x.resource
  FROM x ORDER BY x.ord
  RETURNING id, type
), dl AS (
  INSERT INTO webhook_deliveries (event_id, endpoint_id, resource_id)
  SELECT ev.id, w.id, md5('pgb-' || :client_id || '-' || :r)::uuid::text
  FROM ev JOIN webhook_endpoints w ON w.tenant_id = :tenant AND w.enabled AND (w.events IS NULL OR ev.type = ANY (w.events))
  ORDER BY ev.id, w.id
  RETURNING endpoint_id
), q AS (
  INSERT INTO webhook_queues (endpoint_id, resource_id, pending, ready_at)
  SELECT endpoint_id, md5('pgb-' || :client_id || '-' || :r)::uuid::text, count(*), now() FROM dl GROUP BY endpoint_id ORDER BY endpoint_id
  ON CONFLICT (endpoint_id, resource_id) DO UPDATE
    SET pending = webhook_queues.pending + excluded.pending,
        ready_at = CASE WHEN webhook_queues.pending <= 0 THEN excluded.ready_at ELSE webhook_queues.ready_at END
  RETURNING pending
), nt AS (
  SELECT pg_notify('roster_webhooks', '') FROM (SELECT 1 FROM q LIMIT 1) s
)
SELECT (SELECT count(*) FROM dl) AS deliveries, (SELECT count(*) FROM nt) AS notified;
