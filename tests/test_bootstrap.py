"""The bootstrap tells a ``main(data)`` script from a plain one as the AST would."""

from __future__ import annotations

import ast

import pytest

from scripts_app import bootstrap


def has_top_level_main(source: str) -> bool:
    """The rule, read straight off the syntax tree."""
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
        for node in ast.parse(source).body
    )


SOURCES = {
    "plain": "print('hello')\n",
    "main": "def main(data):\n    return data\n",
    "async main": "async def main(data):\n    return data\n",
    "decorated main": "@decorate\n@decorate(\n    1,\n)\ndef main(data):\n    return data\n",
    "main after statements": "x = (1,\n     2)\nif x:\n    pass\ndef main(data):\n    return x\n",
    "main under an if": "if True:\n    def main(data):\n        return data\n",
    "main in a try": "try:\n    pass\nfinally:\n  def main(data):\n      return data\n",
    "main in a class": "class Job:\n    def main(self, data):\n        return data\n",
    "main in a function": "def outer():\n    def main(data):\n        return data\n",
    "class main": "class main:\n    pass\n",
    "lambda main": "main = lambda data: data\n",
    "imported main": "from json import loads as main\n",
    "main in a docstring only": '"""\ndef main(data):\n"""\nif True:\n    def main(data):\n        pass\n',
    "nested and top-level main": "if True:\n    def main(data):\n        pass\ndef main(data):\n    pass\n",
    "CRLF line ends": "x = 1\r\n\r\ndef main(data):\r\n    return x\r\n",
    "CR line ends": "x = 1\r\rdef main(data):\r    return x\r",
    "form feed before main": "x = 1\n\x0cdef main(data):\n    return x\n",
    "form feed in a block": "if True:\n    pass\n    \x0c    def main(data):\n        pass\n",
    "form feed, then indented": "if True:\n\x0c    def main(data):\n        pass\n",
    "indent, then form feed": "   \x0cdef main(data):\n    pass\n",
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_it_finds_a_top_level_main_exactly_as_the_syntax_tree_does(source):
    code = compile(source, "script.py", "exec")
    assert bootstrap._defines_main(code, source) == has_top_level_main(source)
