-- PATCH /Users/{id} (replace title), statement for statement as UserService.patch
-- sends it (src/services/users.ts, src/db/resources.ts updateStatement,
-- src/db/outbox.ts insertEvents): in one transaction, lock the row, then one
-- statement that writes the new version with its column mirrors and records
-- the outbox event (same shape as create_user.sql).
\set i random(1, :users)
\set t random(1, 1000000)
\set r random(1, 9000000000000000000)
BEGIN;
SELECT id, resource, version, created, last_modified FROM users WHERE tenant_id = :tenant AND id = {{userId}} FOR UPDATE;
WITH rw AS (
  UPDATE users SET resource = jsonb_set(resource, '{title}', to_jsonb('Title ' || :t)), version = version + 1, last_modified = now()
   WHERE tenant_id = :tenant AND id = {{userId}}
), s AS (
  INSERT INTO event_sequences (tenant_id, resource_id, last_seq) VALUES (:tenant, {{userId}}::text, 1)
  ON CONFLICT (tenant_id, resource_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq
  RETURNING last_seq
), x AS (
  SELECT 'evt_' || md5('evt-patch-' || :client_id || '-' || :r) AS uid, 'user.updated' AS type, r.ord, r.data, r.resource, (SELECT last_seq FROM s) - 1 + r.ord AS seq
  FROM json_to_recordset(:event_rows::json) AS r(uid text, type text, ord int, data jsonb, resource json)
), ev AS (
  INSERT INTO events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource)
  SELECT x.uid, :tenant, x.type, 'User', {{userId}}::text, x.seq, md5('txn-patch-' || :client_id || '-' || :r), x.data || jsonb_build_object('sequence', x.seq), x.resource
  FROM x ORDER BY x.ord
  RETURNING id, type
), dl AS (
  INSERT INTO webhook_deliveries (event_id, endpoint_id, resource_id)
  SELECT ev.id, w.id, {{userId}}::text
  FROM ev JOIN webhook_endpoints w ON w.tenant_id = :tenant AND w.enabled AND (w.events IS NULL OR ev.type = ANY (w.events))
  ORDER BY ev.id, w.id
  RETURNING endpoint_id
), q AS (
  INSERT INTO webhook_queues (endpoint_id, resource_id, pending, ready_at)
  SELECT endpoint_id, {{userId}}::text, count(*), now() FROM dl GROUP BY endpoint_id ORDER BY endpoint_id
  ON CONFLICT (endpoint_id, resource_id) DO UPDATE
    SET pending = webhook_queues.pending + excluded.pending,
        ready_at = CASE WHEN webhook_queues.pending <= 0 THEN excluded.ready_at ELSE webhook_queues.ready_at END
  RETURNING pending
), nt AS (
  SELECT pg_notify('roster_webhooks', '') FROM (SELECT 1 FROM q LIMIT 1) s
)
SELECT (SELECT count(*) FROM dl) AS deliveries, (SELECT count(*) FROM nt) AS notified;
END;
