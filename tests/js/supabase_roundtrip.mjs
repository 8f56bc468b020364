// A supabase-js round trip against a Supabase-compatible URL: insert, select single, update,
// delete, upload, public URL fetch. Usage: node supabase_roundtrip.mjs [URL] [KEY] [BUCKET]
// (or SUPABASE_URL, SUPABASE_KEY, SUPABASE_BUCKET). Prints one JSON object on stdout.
import { createClient } from "@supabase/supabase-js";

const url = process.argv[2] ?? process.env.SUPABASE_URL;
const key = process.argv[3] ?? process.env.SUPABASE_KEY;
const bucket = process.argv[4] ?? process.env.SUPABASE_BUCKET ?? "content-media";
if (!url || !key) {
  console.error("usage: node supabase_roundtrip.mjs URL KEY [BUCKET]");
  process.exit(2);
}

// Node 20 has no global WebSocket and this script never subscribes: give realtime a stub.
class NoWebSocket {
  constructor() {
    throw new Error("realtime is not used by this script");
  }
}
const supabase = createClient(url, key, {
  auth: { persistSession: false },
  realtime: { transport: NoWebSocket },
});
const out = {};
const tag = `js-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;

function fail(step, error) {
  out.failed = step;
  out.error = error;
  console.log(JSON.stringify(out));
  process.exit(1);
}

const ins = await supabase.from("content_items").insert({ title: tag }).select().single();
if (ins.error) fail("insert", ins.error);
out.insert = { status: ins.status, title: ins.data.title, id: ins.data.id };

const sel = await supabase.from("content_items").select("*").eq("id", ins.data.id).single();
if (sel.error) fail("select", sel.error);
out.select = { status: sel.status, title: sel.data.title };

const none = await supabase.from("content_items").select("*").eq("title", `${tag}-none`).single();
out.selectNone = { status: none.status, code: none.error?.code ?? null };

const cnt = await supabase.from("content_items").select("*", { count: "exact", head: true }).eq("id", ins.data.id);
out.count = { status: cnt.status, count: cnt.count };

const upd = await supabase.from("content_items").update({ status: "posted" }).eq("id", ins.data.id).select().single();
if (upd.error) fail("update", upd.error);
out.update = { status: upd.status, value: upd.data.status };

const del = await supabase.from("content_items").delete().eq("id", ins.data.id);
if (del.error) fail("delete", del.error);
const gone = await supabase.from("content_items").select("id").eq("id", ins.data.id);
out.delete = { status: del.status, data: del.data, remaining: gone.data.length };

const path = `${tag}/hello world.txt`;
const up = await supabase.storage
  .from(bucket)
  .upload(path, Buffer.from("hello from supabase-js"), { contentType: "text/plain", upsert: false });
if (up.error) fail("upload", up.error);
out.upload = { path: up.data.path, fullPath: up.data.fullPath, id: up.data.id };

const dup = await supabase.storage.from(bucket).upload(path, Buffer.from("again"));
out.uploadDuplicate = { statusCode: dup.error?.statusCode ?? null };

const blob = await supabase.storage
  .from(bucket)
  .upload(`${tag}/blob.txt`, new Blob(["blob body"], { type: "text/plain" }));
if (blob.error) fail("upload blob", blob.error);

const { data: pub } = supabase.storage.from(bucket).getPublicUrl(path);
const res = await fetch(pub.publicUrl);
out.publicUrl = {
  url: pub.publicUrl,
  status: res.status,
  contentType: res.headers.get("content-type"),
  body: await res.text(),
};

const dl = await supabase.storage.from(bucket).download(`${tag}/blob.txt`);
if (dl.error) fail("download", dl.error);
out.download = { body: await dl.data.text() };

const listed = await supabase.storage.from(bucket).list(tag);
if (listed.error) fail("list", listed.error);
out.list = listed.data.map((e) => e.name);

const rm = await supabase.storage.from(bucket).remove([path, `${tag}/blob.txt`]);
if (rm.error) fail("remove", rm.error);
out.remove = rm.data.length;

console.log(JSON.stringify(out));
