"""Errors caused by what the user asked for: the CLI prints them as one line and exits 2."""


class UserError(ValueError):
    """Bad input (a name, a parameter, a file): the message says what was wrong and what to do."""


class RuntimeInputError(UserError):
    """A model file, a model card or an input that the runtime cannot use."""
