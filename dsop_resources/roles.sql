-- dsop access roles, mirroring the original system's viewer / analyst / manager / admin.
-- Rendered and run by dsop_resources/roles.py (`python -m dsop_resources.roles --print` shows the
-- full script for a schema); {schema} is replaced by the quoted schema name and {for_role} by
-- "for role <owner> " when the tables are created by another role than the one applying. Safe to re-run.
--
-- The four roles are NOLOGIN groups; people get access through membership:
--     create role alice login password '...';  grant dsop_viewer to alice;
-- Each role is a member of the one below it, so it inherits everything that role may do.

do $$ begin create role dsop_viewer nologin; exception when duplicate_object then null; end $$;
do $$ begin create role dsop_analyst nologin; exception when duplicate_object then null; end $$;
do $$ begin create role dsop_manager nologin; exception when duplicate_object then null; end $$;
do $$ begin create role dsop_admin nologin; exception when duplicate_object then null; end $$;

grant dsop_viewer to dsop_analyst;
grant dsop_analyst to dsop_manager;
grant dsop_manager to dsop_admin;

create schema if not exists {schema};

-- Start from a clean slate inside this schema so a shorter reporting list really narrows access.
revoke all on all tables in schema {schema} from dsop_viewer, dsop_analyst, dsop_manager;
revoke create on schema {schema} from dsop_viewer, dsop_analyst, dsop_manager;

-- viewer: the schema is visible; the reporting tables are granted one by one (roles.py).
grant usage on schema {schema} to dsop_viewer;

-- analyst: reads every table, including the ones assets create later.
grant select on all tables in schema {schema} to dsop_analyst;
alter default privileges {for_role}in schema {schema} grant select on tables to dsop_analyst;

-- manager: records action statuses (insert into the append-only action_status log; per table, roles.py).

-- admin: everything in the schema, now and later.
grant all on schema {schema} to dsop_admin;
grant all on all tables in schema {schema} to dsop_admin;
grant all on all sequences in schema {schema} to dsop_admin;
alter default privileges {for_role}in schema {schema} grant all on tables to dsop_admin;
alter default privileges {for_role}in schema {schema} grant all on sequences to dsop_admin;
