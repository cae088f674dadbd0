-- GET /Users?filter=emails[type eq "work"].value eq "…": the GIN probe of
-- users_email_values plus the check that the matching email is the work one,
-- with the user's groups, in one statement, ordered and limited as Roster's
-- listing is (src/db/paging.ts: the LIMIT written into the text).
-- The address is computed from :i in SQL, once, in the subquery p (OFFSET 0
-- keeps the planner from folding it back in), so that it is one value for the
-- statement as Roster's parameter is: written inline, a generic plan would
-- count its computation once per row examined, and Postgres would plan this
-- statement afresh on every execution where it plans Roster's once.
\set i random(1, :users)
SELECT u.id, u.resource, u.version, u.created, u.last_modified,
       (SELECT coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) ORDER BY g.display_name), '[]')
          FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
         WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id) AS groups
  FROM (SELECT {{workEmail}} AS email OFFSET 0) p, users u
 WHERE u.tenant_id = :tenant AND u.email_values @> array[p.email]::text[]
   AND exists (SELECT 1 FROM jsonb_array_elements(u.resource -> 'emails') e(v)
                WHERE e.v ->> 'type' = 'work' AND lower(e.v ->> 'value') = p.email)
 ORDER BY u.created, u.id
 LIMIT 100;
