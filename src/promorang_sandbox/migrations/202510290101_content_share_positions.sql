-- Share positions (CONTRACT §4.2), with the two defects of the original fixed so it applies:
-- no "create policy if not exists", and the role claim read from the GUC.
create table if not exists public.content_share_positions (
    id uuid primary key default gen_random_uuid(),
    content_id uuid not null references public.content_items (id) on delete cascade,
    holder_id uuid not null references public.users (id) on delete cascade,
    shares_owned numeric(18, 4) not null default 0,
    total_invested numeric(14, 2) not null default 0,
    average_price numeric(14, 4) generated always as (
        case when shares_owned = 0 then 0 else round(total_invested / shares_owned, 4) end
    ) stored,
    created_at timestamptz not null default timezone('utc', now()),
    updated_at timestamptz not null default timezone('utc', now())
);

create index if not exists idx_content_share_positions_content
    on public.content_share_positions (content_id);
create index if not exists idx_content_share_positions_holder
    on public.content_share_positions (holder_id);

alter table public.content_share_positions enable row level security;

do $$
begin
  if not exists (
    select 1 from pg_trigger where tgname = 'trg_content_share_positions_touch'
  ) then
    create trigger trg_content_share_positions_touch
    before update on public.content_share_positions
    for each row execute function public.touch_updated_at();
  end if;
end
$$;

create policy allow_owners_read_positions
    on public.content_share_positions
    for select
    using (auth.uid() = holder_id);

create policy service_role_full_access_positions
    on public.content_share_positions
    for all
    using ((current_setting('request.jwt.claims', true)::jsonb ->> 'role') = 'service_role')
    with check ((current_setting('request.jwt.claims', true)::jsonb ->> 'role') = 'service_role');

grant select, insert, update, delete on public.content_share_positions
    to anon, authenticated, service_role;
