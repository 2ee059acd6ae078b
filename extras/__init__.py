"""What is built on the reference files beside this folder: see README.md here."""
import sys


def log(message):
    """Progress and warnings go to stderr, so that stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)
