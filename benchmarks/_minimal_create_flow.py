"""The Create-flow smoke checks as a bare httpx script: the baseline the gate is compared with.

Same essential requests, in sequence, no framework: health, frontend and bundle, bucket,
storage probe, upload + public fetch, create/get/update/delete with read-back, the mint, and
the SLO sample of uploads.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def main(state_path: str, uploads: int = 20, concurrency: int = 4) -> None:
    state = json.loads(Path(state_path).read_text())
    api, front, sb = state["api_url"], state["frontend_url"], state["supabase_url"]
    key, token, bucket = state["service_role_key"], state["creator_token"], state["bucket"]
    service = {"apikey": key, "Authorization": f"Bearer {key}"}
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes).decode()
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get(f"{api}/api/health").json()["status"].lower() == "ok"
        assert 'id="root"' in http.get(f"{front}/growth-hub").text
        page = http.get(f"{front}/create").text
        src = page.split('src="', 1)[1].split('"', 1)[0]
        assert api in http.get(f"{front}{src}").text
        assert http.get(f"{api}/api/content", headers={"Origin": front}).status_code == 200
        assert http.get(f"{sb}/storage/v1/bucket/{bucket}", headers=service).json()["public"]
        probe = f"gate-probes/bench/{uuid.uuid4().hex}.png"
        http.post(f"{sb}/storage/v1/object/{bucket}/{probe}", content=b"x", headers=service)
        assert http.get(f"{sb}/storage/v1/object/{bucket}/{probe}", headers=service).content
        http.request(
            "DELETE",
            f"{sb}/storage/v1/object/{bucket}",
            json={"prefixes": [probe]},
            headers=service,
        )
        upload = {"fileName": "bench.png", "fileType": "image/png", "fileData": png}
        url = http.post(f"{api}/api/content/upload-image", json=upload).json()["imageUrl"]
        assert http.get(url).status_code == 200
        for _ in range(2):  # the CRUD test and the mint test each create an item
            body = {"platform": "instagram", "title": "bench", "platform_url": "https://x.test"}
            cid = http.post(f"{api}/api/content", json=body).json()["content"]["id"]
            rows = http.get(
                f"{sb}/rest/v1/content_share_positions?content_id=eq.{cid}", headers=service
            ).json()
            assert len(rows) == 1
            assert http.get(f"{api}/api/content/{cid}").status_code == 200
            http.put(f"{api}/api/content/{cid}", json={"title": "bench 2"})
            http.delete(f"{api}/api/content/{cid}")
            assert http.get(f"{api}/api/content/{cid}").status_code == 404
        with ThreadPoolExecutor(concurrency) as pool:
            list(
                pool.map(
                    lambda _: http.post(f"{api}/api/content/upload-image", json=upload),
                    range(uploads),
                )
            )


if __name__ == "__main__":
    main(sys.argv[1])
