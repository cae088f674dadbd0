-- PATCH /Users/{id} (replace title), statement for statement as UserService.patch
-- sends it (src/services/users.ts, src/db/resources.ts updateStatement,
-- src/db/outbox.ts insertEvents): in one transaction, lock the row, then one
-- statement that writes the new version with its column mirrors and records
-- the outbox event (the recordUpdated placeholder: recordEventSql in bench/lib/pgbench.ts).
\set i random(1, :users)
\set t random(1, 1000000)
\set r random(1, 9000000000000000000)
BEGIN;
SELECT id, resource, version, created, last_modified FROM users WHERE tenant_id = :tenant AND id = {{userId}} FOR UPDATE;
WITH rw AS (
  UPDATE users SET resource = jsonb_set(resource, '{title}', to_jsonb('Title ' || :t)), version = version + 1, last_modified = now()
   WHERE tenant_id = :tenant AND id = {{userId}}
), {{recordUpdated}}
END;
