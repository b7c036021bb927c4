"""Bytes a browser downloads for a page: the HTML, then what it references (scripts, styles, icons).

First visit: every resource fetched with the Accept-Encoding a browser sends; bytes on the
wire are the body as sent (compressed or not) plus the response headers. Repeat visit: a
resource fresh by Cache-Control max-age (or immutable) costs nothing, one with an ETag or
Last-Modified is revalidated (a 304 costs its headers), the others are fetched again.
Usage: pageweight.py <url> [cafile]; prints one JSON line. Runs inside the bench host.
"""

import json
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

URL = sys.argv[1]
CTX = ssl.create_default_context(cafile=sys.argv[2] if len(sys.argv) > 2 else None)
HEADERS = {
    "Accept-Encoding": "gzip, deflate, br",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) chaton-bench",
    "Accept": "*/*",
}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(urllib.request.HTTPSHandler(context=CTX))


def fetch(url, extra=None):
    req = urllib.request.Request(url, headers={**HEADERS, **(extra or {})})  # noqa: S310 (http(s) URLs of the bench)
    try:
        resp = OPENER.open(req, timeout=60)
        status, headers, body = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, headers, body = err.code, err.headers, err.read()
    head = sum(len(k) + len(v) + 4 for k, v in headers.items()) + 17
    return status, headers, body, head


def decoded(headers, body):
    enc = (headers.get("Content-Encoding") or "").lower()
    if enc == "gzip":
        import gzip

        return gzip.decompress(body)
    if enc == "deflate":
        import zlib

        return zlib.decompress(body)
    if enc == "br":
        return b""  # no brotli decoder in the standard library: resources are not parsed then
    return body


status, headers, body, head = fetch(URL)
html = decoded(headers, body).decode("utf-8", "replace")
refs = re.findall(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", html, re.I)
urls = []
for ref in refs:
    if ref.startswith(("data:", "javascript:", "#")):
        continue
    full = urllib.parse.urljoin(URL, ref)
    if urllib.parse.urlsplit(full).netloc == urllib.parse.urlsplit(URL).netloc and full not in urls:
        urls.append(full)
resources = [{"url": URL, "status": status, "headers": dict(headers), "body": len(body), "head": head}]
for url in urls:
    st, hd, bd, hh = fetch(url)
    resources.append({"url": url, "status": st, "headers": dict(hd), "body": len(bd), "head": hh})
# Repeat visit.
for res in resources:
    hd = {k.lower(): v for k, v in res["headers"].items()}
    cc = hd.get("cache-control", "").lower()
    age = re.search(r"max-age=(\d+)", cc)
    if "no-store" not in cc and "no-cache" not in cc and ((age and int(age.group(1)) > 0) or "immutable" in cc):
        res["repeat"] = 0
        res["repeat_how"] = "fresh"
        continue
    cond = {}
    if hd.get("etag"):
        cond["If-None-Match"] = hd["etag"]
    if hd.get("last-modified"):
        cond["If-Modified-Since"] = hd["last-modified"]
    st, _, bd, hh = fetch(res["url"], cond)
    res["repeat"] = len(bd) + hh
    res["repeat_how"] = f"revalidated {st}" if cond else f"refetched {st}"
print(json.dumps({"url": URL, "resources": resources}))
