-- GET /Users?filter=userName eq "…": the indexed look-up (users_user_name on
-- (tenant_id, lower(user_name)), as src/db/filter-sql.ts compiles it) of a
-- random seeded user, with its groups (the readOnly `groups` attribute) in the
-- same statement, ordered and limited as Roster's listing is. The least the
-- database must do to answer the request.
\set i random(1, :users)
SELECT u.id, u.resource, u.version, u.created, u.last_modified,
       (SELECT coalesce(json_agg(json_build_object('value', g.id, 'display', g.display_name) ORDER BY g.display_name), '[]')
          FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
         WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id) AS groups
  FROM users u
 WHERE u.tenant_id = :tenant AND lower(u.user_name) = {{userName}}
 ORDER BY u.created, u.id
 LIMIT 100;
