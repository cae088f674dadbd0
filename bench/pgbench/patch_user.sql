-- PATCH /Users/{id} (replace title): lock the row, then one statement that
-- writes the new version with its column mirrors, numbers and records the
-- outbox event, one transaction (UserService.patch in src/services/users.ts,
-- src/db/resources.ts updateStatement, src/db/outbox.ts insertEvents).
\set i random(1, :users)
\set t random(1, 1000000)
BEGIN;
SELECT id, resource, version, created, last_modified FROM users WHERE tenant_id = :tenant AND id = {{userId}} FOR UPDATE;
WITH rw AS (
  UPDATE users SET resource = jsonb_set(resource, '{title}', to_jsonb('Title ' || :t)), version = version + 1, last_modified = now()
   WHERE tenant_id = :tenant AND id = {{userId}}
), s AS (
  INSERT INTO event_sequences (tenant_id, resource_id, last_seq) VALUES (:tenant, {{userId}}::text, 1)
  ON CONFLICT (tenant_id, resource_id) DO UPDATE SET last_seq = event_sequences.last_seq + excluded.last_seq
  RETURNING last_seq
)
INSERT INTO events (uid, tenant_id, type, resource_type, resource_id, seq, txn, data, resource)
SELECT 'evt_' || md5(random()::text), :tenant, 'user.updated', 'User', {{userId}}::text, s.last_seq, md5(random()::text), :event_data::jsonb, :event_resource::jsonb FROM s;
END;
