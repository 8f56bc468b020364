-- Content items (CONTRACT §4.1, 202510270002_extended_schema.sql). There is no drops table in
-- the sandbox, so drop_id is a plain uuid.
create table if not exists public.content_items (
    id uuid primary key default gen_random_uuid(),
    creator_id uuid references public.users (id) on delete set null,
    drop_id uuid,
    title text not null,
    description text,
    media_url text,
    platform text,
    status text default 'draft',
    posted_at timestamptz,
    impressions bigint default 0,
    clicks bigint default 0,
    engagements bigint default 0,
    shares bigint default 0,
    conversions integer default 0,
    engagement_rate numeric(6, 4),
    created_at timestamptz default timezone('utc', now()),
    updated_at timestamptz default timezone('utc', now())
);

create index if not exists idx_content_items_creator on public.content_items (creator_id);
create index if not exists idx_content_items_drop on public.content_items (drop_id);

create trigger trg_content_items_touch
before update on public.content_items
for each row execute function public.touch_updated_at();

grant select, insert, update, delete on public.content_items to anon, authenticated, service_role;
