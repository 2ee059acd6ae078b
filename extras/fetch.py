"""Getting a dataset's files: from a cache folder, else from mirrors, each file checked by
its SHA-256 before it is used or cached, and nothing ever half written.

The original MNIST host has answered 403, 503, HTML with status 200 and a bad certificate
in its time, so every file has mirrors, and any failure of one moves on to the next: a
refusal, a 404, a page of HTML, a truncated or corrupt gzip, a wrong checksum, or a mirror
that trickles (below SPEED_FLOOR bytes a second for the timeout, its header included).
"""
import gzip
import hashlib
import io
import math
import os
import socket
import stat
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

import nn
from extras import log

NO_NAME = "host name did not resolve (no network?)"
SPEED_FLOOR = 10_000   # bytes per second: a mirror slower than this for the timeout is left


class FetchError(OSError):
    """A file that no cache or mirror gave intact; the message says why."""


def mirror_url(text):
    """A mirror as given (--mirror): an http(s):// URL, an absolute file:/// URL, or a
    folder's path (made a file:/// URL); ValueError says what is wrong with anything else."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        raise ValueError("a mirror URL with a user name or password is not supported (nor "
                         "printed); download the files yourself")
    if (parts.scheme in ("http", "https") and parts.hostname) or \
            (parts.scheme == "file" and parts.netloc in ("", "localhost")):
        return text
    if not parts.scheme and text and os.path.isdir(text):
        return Path(text).resolve().as_uri() + "/"
    raise ValueError(f"must be an http(s):// URL, a file:///absolute/path URL (three "
                     f"slashes) or an existing folder; got {text!r}")


def fetch(name, folder, mirrors, sha256, size, timeout=30.0, log=log, failures=None):
    """The verified, decompressed bytes of the file `name`, from the cache or a mirror.

    The cache is `folder`: a file there named `name` or `name.gz` (ours, or one a user put
    there) is used if its content passes the checksum; one that does not is replaced.
    Else each mirror's `name.gz` is tried in turn; the first that passes is cached as
    `name`. failures collects why each mirror failed, {mirror: (reason, unreachable)}, and
    a mirror that could not be reached at all is not asked again for the next files. A
    cache that cannot be written costs a warning, not the run.
    """
    folder, failures = Path(folder), {} if failures is None else failures
    remove_leftovers(folder, name)
    limit = size + (1 << 20)          # a .gz can be a little larger than its content
    stale, data = [], None
    for path in (folder / name, folder / (name + ".gz")):
        if os.path.lexists(path):
            try:
                data = verify(decompress(read_local(path, limit), path.name, size), path.name,
                              sha256)
                break
            except OSError as error:                # FetchError included
                log(f"cached {path} is unusable ({describe(error)}); fetching it again")
                stale.append(path)
    for mirror in mirrors if data is None else []:
        if failures.get(mirror, ("", False))[1]:
            continue                                 # unreachable for an earlier file
        try:
            data = verify(decompress(download(mirror + name + ".gz", timeout, limit, log),
                                     name + ".gz", size), name, sha256)
            stale.append(folder / name)              # to be cached, below
            break
        except (OSError, ValueError) as error:       # URLError and HTTPError are OSErrors
            failures[mirror] = (describe(error), isinstance(error, urllib.error.URLError)
                                and not isinstance(error, urllib.error.HTTPError))
    if data is None:
        raise FetchError(f"could not get {name}: " + "; ".join(
            f"{mirror}: {reason}" for mirror, (reason, _) in failures.items()))
    for path in stale:
        try:
            if path.name == name:
                folder.mkdir(parents=True, exist_ok=True)
                nn.write_atomically(path, lambda file: file.write(data))
            else:
                path.unlink()
        except OSError as error:
            log(f"warning: could not update the cache {path} ({describe(error)}); carrying on "
                f"with the data in memory. Point --data-dir at a folder you can write to.")
    return data


def fetch_all(names, folder, mirrors, digests, sizes, timeout=30.0):
    """{name: its verified bytes} for each of names, by fetch(); digests and sizes map
    each name to its SHA-256 and size. When some cannot be had, one FetchError names
    them, why the first mirrors failed (or that there is no network), and what to do."""
    files, failures = {}, {}
    for name in names:
        try:
            files[name] = fetch(name, folder, mirrors, digests[name], sizes[name], timeout,
                                failures=failures)
        except FetchError:
            pass
    missing = [name for name in names if name not in files]
    if missing:
        reasons = [f"  {mirror}: {reason}" for mirror, (reason, _) in list(failures.items())[:4]]
        if reasons and all(reason == NO_NAME for reason, _ in failures.values()):
            reasons = ["  no network: the mirrors' host names did not resolve"]
        raise FetchError("\n".join([f"could not get {len(missing)} of the {len(names)} files: "
                                   f"{', '.join(missing)}", *reasons, "To fix: pass --mirror "
                                   "with a folder (or file:/// or http:// URL) that holds the "
                                   ".gz files, or", f"put the files (or their .gz) into "
                                   f"{folder}/ yourself."]))
    return files


def download(url, timeout, limit, log=log):
    """The body of `url`, at most limit bytes of it.

    Like curl's --speed-limit, a response that stays below SPEED_FLOOR bytes a second for
    `timeout` seconds, its header included, is given up on: a mirror that trickles is left
    in seconds, while a slow but steady one finishes. A thread receives while this one
    keeps the clock, since no socket setting bounds a header sent a byte at a time.
    """
    if url.startswith("file:"):
        return read_local(urllib.request.url2pathname(urllib.parse.urlsplit(url).path), limit)
    got = {"chunks": [], "bytes": 0, "total": 0, "outcome": None, "quit": False}

    def receive():
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "nn.py-mnist/1.0"})
            with OPENER.open(request, timeout=timeout) as response:
                log(f"downloading {url}")
                got["total"] = int(response.headers.get("Content-Length") or 0)
                while not got["quit"] and got["bytes"] <= limit and got["total"] <= limit:
                    chunk = response.read1(1 << 16)
                    if not chunk:
                        break
                    got["chunks"].append(chunk)
                    got["bytes"] += len(chunk)
            got["outcome"] = "done"
        except Exception as error:            # raised in the caller's thread, below
            got["outcome"] = error

    threading.Thread(target=receive, daemon=True).start()
    since, before, shown = time.monotonic(), 0, False
    while got["outcome"] is None:
        time.sleep(0.05)
        elapsed = time.monotonic() - since
        if elapsed >= timeout:
            if got["bytes"] - before < SPEED_FLOOR * elapsed:
                got["quit"] = True
                raise FetchError(f"too slow: {got['bytes'] - before:,} bytes in the last "
                                 f"{elapsed:.0f} s")
            since, before = time.monotonic(), got["bytes"]
        if sys.stderr.isatty() and got["bytes"]:
            print(f"\r  {url.rsplit('/', 1)[-1]}: {got['bytes'] / 1e6:6.1f} MB", end="",
                  file=sys.stderr, flush=True)
            shown = True
    if shown:
        print(file=sys.stderr)
    if isinstance(got["outcome"], Exception):
        raise got["outcome"]
    if max(got["total"], got["bytes"]) > limit:
        raise FetchError(f"the server sends more than the {limit:,} bytes the file can be")
    if got["total"] and got["bytes"] != got["total"]:
        raise FetchError(f"the download stopped after {got['bytes']:,} of {got['total']:,} bytes")
    return b"".join(got["chunks"])


class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http:// and https:// only (urllib would also follow ftp://)."""

    def redirect_request(self, request, fp, code, message, headers, new_url):
        scheme = urllib.parse.urlsplit(new_url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"refused a redirect to a {scheme}:// address: not http(s)")
        return super().redirect_request(request, fp, code, message, headers, new_url)


OPENER = urllib.request.build_opener(HttpOnlyRedirects)


def describe(error):
    """A one-line reason for a failed download, without a traceback."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return NO_NAME if isinstance(error.reason, socket.gaierror) else f"{error.reason}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)


def read_local(path, limit):
    """The bytes of a regular file of at most limit bytes (a FIFO or device would hang us,
    /dev/zero would fill memory): for file:// mirrors and the cache."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise FetchError(f"{path} is not a regular file")
    if info.st_size > limit:
        raise FetchError(f"{path} has {info.st_size:,} bytes, more than the file can be")
    with open(path, "rb") as file:
        return file.read(limit + 1)


def verify(data, name, sha256):
    """data, if the SHA-256 of its bytes is sha256; else a FetchError."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise FetchError(f"{name}: checksum mismatch (SHA-256 {digest[:12]}..., expected "
                         f"{sha256[:12]}...; the data starts with "
                         f"{data[:15].decode('ascii', 'replace')!r})")
    return data


def remove_leftovers(folder, name):
    """Delete the temporary files (name*.partial) that a run killed while writing the cache
    left. A live run writes one for well under a second: ten minutes old means abandoned."""
    try:
        for path in folder.glob(name + "*.partial"):
            if time.time() - path.lstat().st_mtime > 600:
                path.unlink()
    except OSError:
        pass  # an unreadable cache is reported where it is read


def decompress(data, name, limit):
    """Gunzip data if it is gzip, else return it as it is; refuse more than limit bytes,
    so that a broken or hostile mirror cannot fill memory with a small 'gzip bomb'."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as file:
            raw = file.read(limit + 1)
    except EOFError as error:
        raise FetchError(f"{name}: the gzip data is truncated ({error})") from error
    except (OSError, zlib.error) as error:           # gzip.BadGzipFile, or bad deflate data
        raise FetchError(f"{name}: the gzip data is corrupt ({error})") from error
    if len(raw) > limit:
        raise FetchError(f"{name}: decompresses to more than the {limit:,} bytes expected")
    return raw


def read_idx(data, name):
    """Parse an IDX file of unsigned bytes, images (N, rows, cols) or labels (N,): two zero
    bytes, the type 0x08 (unsigned byte), the number of dimensions, each as a big-endian
    uint32, then the values. Everything must agree, or the error says what does not."""
    n_dims = data[3] if len(data) >= 4 else 0
    if data.startswith(b"\x1f\x8b"):
        raise ValueError(f"{name}: this is gzip data, not IDX (is it still gzip-compressed?)")
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: not an IDX file (bad magic number {data[:4].hex()})")
    if data[2] != 0x08:
        raise ValueError(f"{name}: IDX type code 0x{data[2]:02x} is not 0x08 (unsigned byte)")
    if n_dims == 0 or len(data) < 4 + 4 * n_dims:
        raise ValueError(f"{name}: IDX header is truncated or has no dimensions")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=n_dims, offset=4))
    if len(data) != 4 + 4 * n_dims + math.prod(shape):
        raise ValueError(f"{name}: IDX header says shape {shape}, which needs "
                        f"{4 + 4 * n_dims + math.prod(shape):,} bytes, but the file has "
                        f"{len(data):,} (truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)
