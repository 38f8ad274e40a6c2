"""The one exception type shown to users: a single line naming the file or key at fault."""


class SeqbenchError(Exception):
    """A user-facing error; its message is one line naming the file or key and what was expected."""
