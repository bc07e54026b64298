"""One exception type for problems the user can fix; the CLI prints it as one line and exits 2."""


class XltError(Exception):
    """A user-facing error: says what is wrong and how to fix it."""
