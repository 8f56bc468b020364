// The sandbox's stand-in for the Promorang frontend: the Create form, the content page and the
// Growth Hub, behaving as the platform's pages do (CONTRACT.md section 7). Plain JavaScript, no
// build step: the sandbox replaces the API base below when it serves the bundle, as the real
// build inlines its API URL ("" = relative /api/... calls the frontend's host forwards).
const API_BASE_URL = "__PROMORANG_API_BASE_URL__";

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const MAX_IMAGE_BYTES = 15 * 1024 * 1024;
const PLATFORMS = ["instagram", "tiktok", "youtube", "twitter", "linkedin"];

function apiUrl(path) {
  return `${API_BASE_URL}${path}`;
}

// The session is the token the sign-in stored, as the real frontend keeps it.
function authHeaders() {
  const token = localStorage.getItem("authToken");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function navigate(path, replace = false) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

function shell(...children) {
  const root = document.getElementById("root");
  const link = (href, text) => h("a", { href, "data-link": true }, text);
  root.replaceChildren(
    h(
      "header",
      { class: "bar" },
      h("span", { class: "brand" }, "Promorang"),
      link("/create", "Create"),
      link("/growth-hub", "Growth Hub"),
    ),
    h("main", {}, ...children),
  );
  return root.querySelector("main");
}

function alertBox(message) {
  return h("div", { role: "alert", class: "error" }, message);
}

// --- Create ---------------------------------------------------------------------------------

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function uploadImage(file) {
  const fileData = await readAsBase64(file);
  const res = await fetch(apiUrl("/api/content/upload-image"), {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify({ fileName: file.name, fileType: file.type, fileData }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.imageUrl) {
    throw new Error(body.error || `Image upload failed (${res.status})`);
  }
  return body;
}

async function createContent(payload) {
  const res = await fetch(apiUrl("/api/content"), {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify(payload),
  });
  const result = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(result.error || `Creating the content failed (${res.status})`);
  return result;
}

function field(id, label, control, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("span", { class: "hint" }, hint) : null,
  );
}

function createForm() {
  const messages = h("div", { class: "messages" });
  const image = h("input", { id: "image", name: "image", type: "file", accept: IMAGE_TYPES.join(",") });
  image.addEventListener("change", () => {
    const file = image.files[0];
    messages.replaceChildren();
    if (file && !IMAGE_TYPES.includes(file.type)) {
      messages.append(alertBox("Choose a JPEG, PNG, GIF or WebP image."));
      image.value = "";
    } else if (file && file.size > MAX_IMAGE_BYTES) {
      messages.append(alertBox("The image is larger than 15 MB."));
      image.value = "";
    }
  });
  const platform = h("select", { id: "platform", name: "platform", required: true },
    PLATFORMS.map((p) => h("option", { value: p }, p[0].toUpperCase() + p.slice(1))));
  const submit = h("button", { type: "submit" }, "Create Content");
  const form = h(
    "form",
    { class: "create card", novalidate: false },
    field("image", "Image", image, "JPEG, PNG, GIF or WebP, up to 15 MB"),
    field("title", "Title", h("input", { id: "title", name: "title", type: "text", required: true })),
    h(
      "div",
      { class: "row" },
      field("platform", "Platform", platform),
      field("platform_url", "Platform URL",
        h("input", { id: "platform_url", name: "platform_url", type: "url", required: true })),
    ),
    field("description", "Description", h("textarea", { id: "description", name: "description", rows: 3 })),
    h(
      "div",
      { class: "row" },
      field("total_shares", "Total Shares",
        h("input", { id: "total_shares", name: "total_shares", type: "number", min: 100, max: 1000,
          step: 1, value: 100, required: true })),
      field("share_price", "Share Price",
        h("input", { id: "share_price", name: "share_price", type: "number", min: 0, step: 0.01,
          value: 0.1, required: true })),
    ),
    messages,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.replaceChildren();
    submit.disabled = true;
    try {
      const file = image.files[0];
      let mediaUrl = null;
      if (file) {
        const upload = await uploadImage(file);
        if (upload.fallback) {
          messages.append(h("div", { role: "status", class: "notice" },
            `The image was not stored; a placeholder is used instead (${upload.fallbackReason || "unknown reason"}).`));
        }
        mediaUrl = upload.imageUrl;
      }
      const sharePrice = Number(form.elements.share_price.value);
      const totalShares = Number(form.elements.total_shares.value);
      const result = await createContent({
        platform: form.elements.platform.value,
        title: form.elements.title.value,
        description: form.elements.description.value,
        platform_url: form.elements.platform_url.value,
        media_url: mediaUrl,
        total_shares: totalShares,
        share_price: sharePrice,
      });
      const contentId = result.content.id;
      navigate(`/content/${contentId}`);
    } catch (error) {
      messages.append(alertBox(error.message || String(error)));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function renderCreate() {
  shell(h("h1", {}, "Create Content"), createForm());
}

// --- Content ---------------------------------------------------------------------------------

async function renderContent(id) {
  const main = shell(h("p", {}, "Loading…"));
  const res = await fetch(apiUrl(`/api/content/${encodeURIComponent(id)}`), {
    credentials: "include",
    headers: authHeaders(),
  }).catch(() => null);
  const body = res ? await res.json().catch(() => ({})) : {};
  if (!res || !res.ok || !body.content) {
    main.replaceChildren(alertBox(body.error || "This content could not be loaded."));
    return;
  }
  const c = body.content;
  main.replaceChildren(
    h(
      "article",
      { class: "card" },
      h("h1", {}, c.title),
      c.media_url ? h("img", { class: "content-media", src: c.media_url, alt: c.title }) : null,
      c.description ? h("p", {}, c.description) : null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Platform"), h("dd", {}, c.platform),
        h("dt", {}, "Platform URL"), h("dd", {}, h("a", { href: c.platform_url, rel: "noopener" }, c.platform_url)),
        h("dt", {}, "Total shares"), h("dd", { "data-field": "total_shares" }, c.total_shares),
        h("dt", {}, "Share price"), h("dd", { "data-field": "share_price" }, c.share_price),
        h("dt", {}, "Creator"), h("dd", {}, c.creator_name),
      ),
    ),
  );
}

// --- Growth Hub ------------------------------------------------------------------------------

// What the real page shows when a call fails: it never tells the user (CONTRACT 6.15).
const DEMO = {
  user: { user: { email: "growth@promorang.com", display_name: "Growth Creator", gems_balance: 980, points_balance: 12500 } },
  channels: { channels: [{ id: "foundation-growth", name: "Foundation Growth", expected_apr: 18.5, lock_period_days: 45 }] },
  staking: { positions: [{ id: "position-1", channel_id: "foundation-growth", amount: 750, status: "active" }] },
  funding: { projects: [{ id: 102, title: "Growth Hub Community Fund", target_amount: 80000, amount_raised: 61200 }] },
  shield: { policies: [{ id: "policy-1", name: "Social Safeguard", premium_amount: 45, coverage_amount: 7500 }] },
};

async function fetchWithFallback(path, fallback) {
  try {
    const res = await fetch(apiUrl(path), { credentials: "include", headers: authHeaders() });
    if (!res.ok) throw new Error(`Request failed with status ${res.status}`);
    return await res.json();
  } catch (error) {
    console.warn(`Falling back for ${path}:`, error instanceof Error ? error.message : error);
    return fallback;
  }
}

function cards(items, render) {
  return items.length ? h("div", { class: "grid" }, items.map((item) => h("div", { class: "card" }, render(item))))
    : h("p", {}, "Nothing here yet.");
}

async function renderGrowthHub() {
  const main = shell(h("h1", {}, "Growth Hub"), h("p", {}, "Loading…"));
  const [user, channels, staking, funding, shield] = await Promise.all([
    fetchWithFallback("/api/users/me", DEMO.user),
    fetchWithFallback("/api/growth/channels", DEMO.channels),
    fetchWithFallback("/api/growth/staking", DEMO.staking),
    fetchWithFallback("/api/growth/funding/projects", DEMO.funding),
    fetchWithFallback("/api/growth/shield/policies", DEMO.shield),
  ]);
  const me = user.user || user;
  main.replaceChildren(
    h("h1", {}, "Growth Hub"),
    h("section", { class: "card" }, h("h2", {}, me.display_name || me.username || "Creator"),
      h("p", {}, me.email), h("p", {}, `${me.gems_balance ?? 0} gems · ${me.points_balance ?? 0} points`)),
    h("section", {}, h("h2", {}, "Growth channels"), cards(channels.channels || [], (c) =>
      [h("h3", {}, c.name), h("p", {}, `${c.expected_apr}% APR · ${c.lock_period_days} days lock`)])),
    h("section", {}, h("h2", {}, "Your staking positions"), cards(staking.positions || [], (p) =>
      [h("h3", {}, p.channel_id), h("p", {}, `${p.amount} gems · ${p.status}`)])),
    h("section", {}, h("h2", {}, "Funding projects"), cards(funding.projects || [], (p) =>
      [h("h3", {}, p.title), h("p", {}, `${p.amount_raised} of ${p.target_amount} raised`)])),
    h("section", {}, h("h2", {}, "Social Shield"), cards(shield.policies || [], (p) =>
      [h("h3", {}, p.name), h("p", {}, `${p.premium_amount} gems a month · covers ${p.coverage_amount}`)])),
  );
}

// --- routing ---------------------------------------------------------------------------------

function renderSignIn() {
  shell(h("h1", {}, "Sign in"), h("p", {}, "Sign in to create content and use the Growth Hub."));
}

function renderHome() {
  shell(h("h1", {}, "Promorang"), h("p", {}, "Create content, or grow it in the Growth Hub."));
}

const PROTECTED = new Set(["/create", "/growth-hub"]);

function render() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (PROTECTED.has(path) && !localStorage.getItem("authToken")) {
    navigate("/auth", true);
    return;
  }
  const content = path.match(/^\/content\/([^/]+)$/);
  if (path === "/create") renderCreate();
  else if (path === "/growth-hub") renderGrowthHub();
  else if (content) renderContent(decodeURIComponent(content[1]));
  else if (path === "/auth") renderSignIn();
  else renderHome();
}

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-link]") : null;
  if (link) {
    event.preventDefault();
    navigate(link.getAttribute("href"));
  }
});
window.addEventListener("popstate", render);
render();

export { createContent, uploadImage };
