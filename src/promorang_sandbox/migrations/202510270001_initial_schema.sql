-- Creator profiles (CONTRACT §4.1, 202510270001_initial_schema.sql).
create table if not exists public.users (
    id uuid primary key default gen_random_uuid(),
    email text unique,
    username text unique,
    display_name text,
    user_type text default 'creator',
    advertiser_tier text,
    points_balance integer default 0,
    keys_balance integer default 0,
    gems_balance integer default 0,
    gold_collected integer default 0,
    user_tier text default 'free',
    avatar_url text,
    mocha_user_id text unique,
    created_at timestamptz default timezone('utc', now()),
    updated_at timestamptz default timezone('utc', now())
);

create or replace function public.touch_updated_at() returns trigger
language plpgsql
as $$
begin
  new.updated_at = timezone('utc', now());
  return new;
end
$$;

grant select, insert, update, delete on public.users to anon, authenticated, service_role;
