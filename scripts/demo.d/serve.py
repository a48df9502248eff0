"""A quiet static web server for the demo: serves DIR on 127.0.0.1, on a
port the system picks, and writes that port to PORTFILE once it listens.
Stops on SIGTERM or SIGINT.

    python3 serve.py DIR PORTFILE
"""
import functools
import http.server
import os
import signal
import sys


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that stops reading on purpose (a device refusing an image
        # it cannot decrypt, a hash mismatch) is not the server's error.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def main():
    directory, portfile = sys.argv[1], sys.argv[2]
    handler = functools.partial(QuietHandler, directory=directory)
    server = Server(("127.0.0.1", 0), handler)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, portfile)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
