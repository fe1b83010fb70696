"""The one exception type whose message is shown to the user as a single line, without traceback."""


class UserError(Exception):
    """Bad input or configuration: the message names the file, row or field and what to do."""
