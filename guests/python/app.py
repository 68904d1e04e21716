"""The polyglot greeter (wit/greeter.wit) in Python.

componentize-py generates the `wit_world` package from the WIT and embeds
CPython (`cargo xtask guests --lang python`). A host `error` arrives as the
exception `componentize_py_types.Err`.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import logging


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        try:
            logging.log(logging.Level.INFO, f"greeting {name}", [("lang", "python")])
        except Err:
            pass  # A refused record (rate limit) must not fail the greeting.
        return f"Hello, {name}!"

    def transform(self, data: bytes) -> bytes:
        return bytes((b + 1) & 0xFF for b in reversed(data))
