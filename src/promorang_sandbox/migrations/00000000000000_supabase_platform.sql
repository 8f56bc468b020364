-- The slice of the Supabase platform the sandbox needs: auth helpers, storage tables, migration
-- tracking. Roles anon/authenticated/service_role are cluster-wide and created by database.py.
create extension if not exists pgcrypto;

-- auth -----------------------------------------------------------------------------------------
create schema if not exists auth;

create table if not exists auth.users (
    id uuid primary key default gen_random_uuid(),
    email text,
    encrypted_password text
);

-- GoTrue's refresh tokens: each is used once (the sandbox's /auth/v1/token rotates them).
create table if not exists auth.refresh_tokens (
    token text primary key,
    user_id uuid not null references auth.users (id) on delete cascade,
    revoked boolean not null default false,
    created_at timestamptz not null default now()
);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant usage on schema auth to anon, authenticated, service_role;

-- storage --------------------------------------------------------------------------------------
create schema if not exists storage;

create table storage.buckets (
    id text primary key,
    name text not null,
    owner uuid,
    owner_id text,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    public boolean default false,
    avif_autodetection boolean default false,
    file_size_limit bigint,
    allowed_mime_types text[]
);
create unique index bname on storage.buckets using btree (name);

create table storage.objects (
    id uuid primary key default gen_random_uuid(),
    bucket_id text references storage.buckets (id) on update cascade,
    name text,
    owner uuid,
    owner_id text,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_accessed_at timestamptz default now(),
    metadata jsonb,
    user_metadata jsonb,
    version text,
    path_tokens text[] generated always as (string_to_array(name, '/')) stored,
    constraint objects_bucket_id_name_key unique (bucket_id, name)
);
create index name_prefix_search on storage.objects (name text_pattern_ops);

-- Object bytes; reachable only by the connection owner (the gateway), never by the API roles.
create table storage.object_data (
    object_id uuid primary key references storage.objects (id) on delete cascade,
    data bytea not null
);
revoke all on storage.object_data from public;

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

create or replace function storage.update_updated_at_column() returns trigger
language plpgsql
as $$
begin
  new.updated_at = now();
  return new;
end
$$;

create trigger update_objects_updated_at
before update on storage.objects
for each row execute function storage.update_updated_at_column();

create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

grant usage on schema storage to anon, authenticated, service_role;
grant all on storage.buckets to anon, authenticated, service_role;
grant all on storage.objects to anon, authenticated, service_role;
grant execute on all functions in schema storage to anon, authenticated, service_role;

-- public ---------------------------------------------------------------------------------------
grant usage on schema public to anon, authenticated, service_role;

-- migration tracking (as the Supabase CLI keeps it) ---------------------------------------------
create schema if not exists supabase_migrations;

create table if not exists supabase_migrations.schema_migrations (
    version text primary key,
    name text,
    statements text[]
);
