"""Dependencies written as URLs (`deps: [https://…/wine.data]`), checked as DVC 3 checks them.

An http(s) dependency is not downloaded: one HEAD request (a GET whose body is not read when HEAD
gives no size) tells whether it changed. DVC records the server's `ETag` (or `Content-MD5`) as the
dependency's `checksum`; a server that sends neither gets fsspec's token of the response's details
(size, type, final URL, Last-Modified), so xp computes exactly that token too and the two tools
read each other's locks. Other schemes (s3://, gs://, ssh://…) need storage support xp does not
have yet; they are reported, never mistaken for files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from pyhelper.core.storage.hashing import HashInfo

HTTP_SCHEMES = ("http", "https")
TIMEOUT = float(os.environ.get("XP_URL_TIMEOUT", "20"))
"""Seconds to wait for a server (XP_URL_TIMEOUT)."""


class UrlError(Exception):
    """A URL dependency could not be checked (its message is one line for the user)."""


@dataclass(frozen=True)
class UrlState:
    """What a URL dependency is now."""

    info: HashInfo | None
    """Its checksum and size; None when it could not be read (see `problem`)."""
    problem: str = ""


def scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def check(url: str) -> UrlState:
    """The dependency's checksum now, or why it could not be had."""
    if scheme(url) not in HTTP_SCHEMES:
        return UrlState(None, f"xp does not read {scheme(url)}:// dependencies yet (DVC's remote storage support "
                              "comes with issue 18); `dvc repro` can run this stage")
    try:
        info = _http_info(url)
    except UrlError as exc:
        return UrlState(None, str(exc))
    return UrlState(HashInfo(md5="", size=info.get("size") or 0, checksum=_checksum(url, info)))


def _checksum(url: str, info: dict[str, Any]) -> str:
    """The checksum DVC records for an http(s) file."""
    if info.get("ETag") or info.get("Content-MD5"):
        return str(info.get("ETag") or info.get("Content-MD5"))
    # fsspec's AbstractFileSystem.checksum: int(tokenize(self.info(path)), 16), tokenize = md5(str(args)).
    whole = {"name": url, "size": None, **info, "type": "file"}
    return str(int(hashlib.md5(str((whole,)).encode()).hexdigest(), 16))


def _http_info(url: str) -> dict[str, Any]:
    """The details fsspec's HTTP file system reads from a HEAD (else GET) response, in its order."""
    import urllib.error
    import urllib.request

    info: dict[str, Any] = {}
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers={"Accept-Encoding": "identity",
                                                                      "User-Agent": "xp"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) only)
                headers = response.headers
                found: dict[str, Any] = {}
                if headers.get("Content-Length") is not None:
                    if headers.get("Content-Encoding", "identity") in ("identity", ""):
                        found["size"] = int(headers["Content-Length"])
                elif headers.get("Content-Range"):
                    found["size"] = int(headers["Content-Range"].split("/")[1])
                if headers.get("Content-Type"):
                    found["mimetype"] = headers["Content-Type"].partition(";")[0]
                if headers.get("Accept-Ranges") == "none":
                    found["partial"] = False
                found["url"] = response.geturl()
                for field in ("ETag", "Content-MD5", "Digest", "Last-Modified"):
                    if headers.get(field):
                        found[field] = headers[field]
                info.update(found)
        except urllib.error.HTTPError as exc:
            if method == "GET":
                raise UrlError(f"{url} answered {exc.code} {exc.reason}") from None
            continue
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if method == "GET":
                reason = getattr(exc, "reason", exc)
                raise UrlError(f"{url} could not be reached ({reason})") from None
            continue
        if info.get("size") is not None:
            break
    return info
