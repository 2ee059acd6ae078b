"""One web server for the project's pages (the page to write on, the playground, the live
page of a run): the standard library's, on this computer only (127.0.0.1), every request
bounded in size and in time, a bad one answered with HTTP 400 and a one-line JSON error,
and the server going on after anything a client does.
"""
import http.server
import json
import socket
import sys
import threading

from extras import log

REQUEST_SECONDS = 30          # a connection that has not been answered by then is closed


class Handler(http.server.BaseHTTPRequestHandler):
    """A request handler whose client's time is up after REQUEST_SECONDS, however slowly
    it trickles; subclasses answer with answer() (JSON) or send() (anything)."""
    timeout = 10                  # seconds a client may keep us waiting for each read

    def setup(self):
        super().setup()
        self.deadline = threading.Timer(REQUEST_SECONDS, self.hang_up)
        self.deadline.start()

    def hang_up(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass                  # already closed

    def finish(self):
        self.deadline.cancel()
        try:
            super().finish()
        except OSError:
            pass                  # the client went away first: nothing left to flush

    def answer(self, status, reply):
        self.send(status, "application/json", json.dumps(reply).encode("utf-8"))

    def send(self, status, kind, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self, max_bytes, what="the request"):
        """The request's body, refused (ValueError) without a Content-Length, or over
        max_bytes (unread: the connection is closed after the answer)."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ValueError("send a Content-Length header")
        if int(length) > max_bytes:
            self.close_connection = True
            raise ValueError(f"{what} has {int(length):,} bytes; at most {max_bytes:,} "
                             f"({max_bytes / 1e6:g} MB)")
        return self.rfile.read(int(length))

    def read_json(self, max_bytes):
        """The request's body as JSON (see read_body), or a ValueError."""
        try:
            return json.loads(self.read_body(max_bytes))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("the request is not JSON") from None

    def log_message(self, *args):
        pass                                      # no line per request


class Server(http.server.ThreadingHTTPServer):
    """Serves each request in a thread of its own; a request that fails is one line."""
    daemon_threads = True

    def handle_error(self, request, address):
        kind, error = sys.exc_info()[:2]
        if issubclass(kind, OSError):             # a client that hung up or stalled
            log(f"a request from {address[0]} ended early ({kind.__name__})")
        else:
            log(f"error answering a request: {kind.__name__}: {error}")


def listen(handler, port):
    """A Server on 127.0.0.1:port (0: any free one) for handler; an OSError that says
    to choose another port if this one is taken."""
    try:
        return Server(("127.0.0.1", port), handler)
    except OSError as error:
        raise OSError(f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}); "
                      f"choose another port with --port N") from error


def serve_until_interrupted(server, what):
    """Run server until Ctrl-C, having said where; returns 0."""
    print(f"{what} at http://127.0.0.1:{server.server_address[1]}/  (open it in a browser; "
          f"Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log("stopped")
    finally:
        server.server_close()
    return 0
