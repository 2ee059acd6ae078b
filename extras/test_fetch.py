"""Tests of fetch.py against local folders and servers on 127.0.0.1: mirrors that fail
every way one can, caches that are damaged, and nothing half written. No internet."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import socket
import threading
import time

import numpy as np
import pytest

import nn
from extras import fetch


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def labels_file():
    """A small IDX labels file, as (name, raw bytes, its digest, its size)."""
    raw = bytes(range(50)) * 3
    return "train-labels-idx1-ubyte", raw, sha256(raw), len(raw)


def mirror_folder(folder, files):
    """Write each {name: raw bytes} as name.gz into folder; return its file:// URL."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
    return folder.resolve().as_uri() + "/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the files of a folder, without a log line per request in the test output."""
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler=QuietHandler, folder=None):
    """Run an HTTP server with handler (a request handler class) on 127.0.0.1 in a thread
    (with folder: serve that folder's files); yield its base URL, then shut it down."""
    if folder is not None:
        handler = functools.partial(handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_decompress_caps_the_size_and_rejects_truncated_gzip():
    """A gzip bomb cannot fill memory, and a cut-off download is not taken for data."""
    raw = bytes(1000)
    assert fetch.decompress(gzip.compress(raw), "f.gz", 1000) == raw
    assert fetch.decompress(raw, "f", 1000) == raw  # already decompressed: used as it is
    with pytest.raises(fetch.FetchError, match="more than the 999 bytes"):
        fetch.decompress(gzip.compress(raw), "f.gz", 999)
    with pytest.raises(fetch.FetchError, match="truncated"):
        fetch.decompress(gzip.compress(raw)[:-10], "f.gz", 1000)


def test_fetch_downloads_verifies_and_caches(tmp_path, labels_file):
    """A verified download is cached, and the cache is used next time without any mirror."""
    name, raw, digest, size = labels_file
    mirror = mirror_folder(tmp_path / "mirror", {name: raw})
    cache = tmp_path / "cache"
    assert fetch.fetch(name, cache, [mirror], digest, size) == raw
    assert sorted(p.name for p in cache.iterdir()) == [name]
    assert (cache / name).read_bytes() == raw
    # now cached: no mirror is needed any more
    assert fetch.fetch(name, cache, [], digest, size) == raw


def test_digest_mismatch_raises_and_leaves_nothing_in_the_cache(tmp_path, labels_file):
    """Data with the wrong checksum is refused and never cached."""
    name, raw, digest, size = labels_file
    mirror = mirror_folder(tmp_path / "mirror", {name: raw[:-1] + bytes([raw[-1] ^ 1])})  # a bit off
    cache = tmp_path / "cache"
    with pytest.raises(fetch.FetchError, match="checksum mismatch"):
        fetch.fetch(name, cache, [mirror], digest, size)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_first_mirrors_failing_fall_back_to_the_next(tmp_path, labels_file):
    """Refused, 404, missing, HTML-instead-of-data and truncated mirrors all fall through to
    the next one."""
    name, raw, digest, size = labels_file
    root = tmp_path / "www"
    (root / "html").mkdir(parents=True)
    (root / "html" / (name + ".gz")).write_text("<!DOCTYPE html><p>Please log in</p>")
    (root / "truncated").mkdir()
    (root / "truncated" / (name + ".gz")).write_bytes(gzip.compress(raw)[:-8])
    (root / "good").mkdir()
    (root / "good" / (name + ".gz")).write_bytes(gzip.compress(raw))
    mirrors = [closed_port_url(),                           # connection refused
               "missing/",                                   # 404
               (tmp_path / "nowhere").as_uri() + "/",        # file:// that does not exist
               "html/",                                      # an HTML page served with 200
               "truncated/",                                 # a truncated gzip
               "good/"]
    with serving(folder=root) as base:
        mirrors = [m if m.startswith(("http", "file")) else base + m for m in mirrors]
        assert fetch.fetch(name, tmp_path / "cache", mirrors, digest, size, timeout=5) == raw
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [name]
    assert (tmp_path / "cache" / name).read_bytes() == raw


def test_every_mirror_failing_gives_one_readable_message(tmp_path, labels_file):
    """When every mirror fails, one line names each mirror tried and why it failed."""
    name, raw, digest, size = labels_file
    refused = closed_port_url()
    with serving(folder=tmp_path) as base, pytest.raises(fetch.FetchError) as error:
        fetch.fetch(name, tmp_path / "cache", [refused, base + "missing/"], digest, size,
                    timeout=5)
    message = str(error.value)
    assert f"could not get {name}" in message and "\n" not in message
    assert f"{refused}: " in message and f"{base}missing/: HTTP 404" in message
    assert "refused" in message.lower()


@pytest.mark.parametrize("cached_name", ["train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz"])
def test_corrupt_cached_file_is_fetched_again(tmp_path, labels_file, cached_name):
    """A damaged cached file is replaced by a good download, and the log says so."""
    name, raw, digest, size = labels_file
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / cached_name).write_bytes(b"garbage from an interrupted copy")
    mirror = mirror_folder(tmp_path / "mirror", {name: raw})
    logged = []
    assert fetch.fetch(name, cache, [mirror], digest, size, log=logged.append) == raw
    assert [p.name for p in cache.iterdir()] == [name] and (cache / name).read_bytes() == raw
    assert "fetching it again" in logged[0] and cached_name in logged[0]


@pytest.mark.parametrize("compress", [False, True])
def test_files_a_user_put_in_the_cache_are_used(tmp_path, labels_file, compress):
    """Files a user copied into the cache, gzipped or not, are used if they verify."""
    name, raw, digest, size = labels_file
    cache = tmp_path / "cache"
    cache.mkdir()
    if compress:
        (cache / (name + ".gz")).write_bytes(gzip.compress(raw))
    else:
        (cache / name).write_bytes(raw)
    assert fetch.fetch(name, cache, [], digest, size) == raw


class PacedHandler(http.server.BaseHTTPRequestHandler):
    """Sends `body` (after a status line and its Content-Length, unless `bare`) `piece`
    bytes at a time, one piece every 0.2 s: a trickle or a slow, steady mirror; bare, a
    body that is itself a status line and header, a mirror whose header never ends."""
    body, piece, bare = b"", 1, False

    def do_GET(self):
        if not self.bare:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
        try:
            for start in range(0, len(self.body), self.piece):
                self.wfile.write(self.body[start:start + self.piece])
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass  # the client gave up on us, as it should

    def log_message(self, *args):
        pass


def test_a_trickling_mirror_is_left_within_the_timeout(tmp_path, labels_file, monkeypatch):
    """A mirror sending 5 bytes a second is left for the next one after about --timeout
    seconds, however large the file: long before its 20 s trickle ends (a margin that
    holds on a busy machine)."""
    name, raw, digest, size = labels_file
    monkeypatch.setattr(PacedHandler, "body", b"\x1f" * 100)        # 20 s in all
    good = mirror_folder(tmp_path / "mirror", {name: raw})
    with serving(PacedHandler) as slow:
        logged = []
        started = time.monotonic()
        assert fetch.fetch(name, tmp_path / "cache", [slow, good], digest, 10**6, timeout=1,
                           log=logged.append) == raw
        assert time.monotonic() - started < 10


def test_a_slow_but_steady_mirror_still_finishes(tmp_path, monkeypatch):
    """A mirror sending 25 KB a second delivers its file, though that takes longer than
    --timeout: only a rate below the floor for --timeout seconds gives up on it."""
    raw = np.random.default_rng(0).integers(0, 10, 60_000, dtype=np.uint8).tobytes()
    name = "train-labels-idx1-ubyte"
    monkeypatch.setattr(PacedHandler, "body", gzip.compress(raw))
    monkeypatch.setattr(PacedHandler, "piece", 5_000)
    assert len(PacedHandler.body) > 4 * 5_000                    # over a second in all
    with serving(PacedHandler) as steady:
        assert fetch.fetch(name, tmp_path / "cache", [steady], sha256(raw), len(raw),
                           timeout=0.5, log=lambda message: None) == raw


class RedirectToFtpHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "ftp://127.0.0.1/file.gz")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_redirects_away_from_http_are_refused(tmp_path, labels_file):
    """A mirror may redirect to http(s) only; urllib alone would follow ftp:// too."""
    name, raw, digest, size = labels_file
    with serving(RedirectToFtpHandler) as base, pytest.raises(fetch.FetchError) as error:
        fetch.fetch(name, tmp_path / "cache", [base], digest, size, timeout=5,
                    log=lambda message: None)
    assert "refused a redirect to a ftp:// address" in str(error.value)


def test_a_fifo_behind_a_file_mirror_is_refused_not_waited_on(tmp_path, labels_file):
    """Reading a FIFO would wait forever: only regular files are read."""
    name, raw, digest, size = labels_file
    folder = tmp_path / "fifo"
    folder.mkdir()
    os.mkfifo(folder / (name + ".gz"))
    with pytest.raises(fetch.FetchError, match="not a regular file"):
        fetch.fetch(name, tmp_path / "cache", [folder.as_uri() + "/"], digest, size)


def test_cache_problems_cost_a_warning_not_the_run(tmp_path, labels_file, monkeypatch):
    """A folder in the file's place or a read-only cache: warn, and go on with the data in
    memory."""
    name, raw, digest, size = labels_file
    mirror = mirror_folder(tmp_path / "mirror", {name: raw})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).mkdir()                                    # a folder in the file's place
    logged = []
    assert fetch.fetch(name, cache, [mirror], digest, size, log=logged.append) == raw
    assert any("could not update the cache" in line and "--data-dir" in line for line in logged)

    def read_only(path, write):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(nn, "write_atomically", read_only)
    logged.clear()
    assert fetch.fetch(name, tmp_path / "other", [mirror], digest, size, log=logged.append) == raw
    assert any("Permission denied" in line for line in logged)


def test_a_huge_cached_file_is_not_read_whole(tmp_path, labels_file):
    """A 2 GiB file in the cache is refused by its size, not read into memory."""
    name, raw, digest, size = labels_file
    cache = tmp_path / "cache"
    cache.mkdir()
    with open(cache / name, "wb") as file:
        file.truncate(1 << 31)                               # 2 GiB, sparse: costs no disk
    logged = []
    mirror = mirror_folder(tmp_path / "mirror", {name: raw})
    assert fetch.fetch(name, cache, [mirror], digest, size, log=logged.append) == raw
    assert "more than the file can be" in logged[0] and (cache / name).stat().st_size == size


def test_a_corrupt_raw_file_beside_a_good_gz_is_repaired(tmp_path, labels_file):
    """A good .gz in the cache repairs a damaged decompressed copy beside it."""
    name, raw, digest, size = labels_file
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).write_bytes(b"damaged")
    (cache / (name + ".gz")).write_bytes(gzip.compress(raw))
    assert fetch.fetch(name, cache, [], digest, size, log=lambda message: None) == raw
    assert (cache / name).read_bytes() == raw


def test_temporary_files_left_by_a_killed_run_are_removed(tmp_path, labels_file):
    """Old *.partial files of a killed run are removed; a young one may be a live run's."""
    name, raw, digest, size = labels_file
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).write_bytes(raw)
    old, young = cache / (name + "abc.partial"), cache / (name + "def.partial")
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert fetch.fetch(name, cache, [], digest, size) == raw
    assert not old.exists() and young.exists()   # young may belong to a run still going


def test_a_mirror_that_trickles_its_header_is_left_within_the_timeout(tmp_path, labels_file,
                                                                     monkeypatch):
    """A byte of header every 0.2 s keeps every socket read alive; the speed floor holds
    for the whole response, so the mirror is left after about the timeout, for the next."""
    name, raw, digest, size = labels_file
    monkeypatch.setattr(PacedHandler, "bare", True)
    monkeypatch.setattr(PacedHandler, "body",
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\n" * 20)
    good = mirror_folder(tmp_path / "mirror", {name: raw})
    with serving(PacedHandler) as slow:
        failures, started = {}, time.monotonic()
        assert fetch.fetch(name, tmp_path / "cache", [slow, good], digest, size, timeout=1,
                           log=lambda message: None, failures=failures) == raw
        assert time.monotonic() - started < 10 and "too slow" in failures[slow][0]  # of 200 s
