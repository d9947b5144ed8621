"""Run every ```python block in docs/**/*.md, so that the examples in the docs stay true.

- Each block runs on its own, in a fresh module namespace: write blocks that are complete
  (imports included) and check their results with ``assert``.
- A block fenced as ```python no-run (any info string containing ``no-run``) is only shown,
  not run: use it for fragments and for code that needs a network or a helpdesk.
- Other languages (```yaml, ```console, ```pycon, ...) are not run.
- Tests are named ``<file>:<line>`` (the line of the opening fence), and tracebacks point at the
  lines of the Markdown file.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# An opening or closing fence: up to three spaces of indent, then ``` or ~~~ (or longer).
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: str  #: file name, relative to the repository when it is inside it
    line: int  #: 1-based line of the opening fence
    index: int  #: 0-based position among the file's python blocks
    info: str  #: the fence's info string, e.g. ``python no-run``
    source: str

    @property
    def runnable(self) -> bool:
        words = self.info.split()
        return bool(words) and words[0] == "python" and "no-run" not in words[1:]


def python_blocks(text: str, path: str = "<doc>") -> Iterator[Block]:
    """Yield the ```python blocks of Markdown ``text``, runnable or not.

    A block ends at a fence of the same character at least as long as the opening one (so a
    ````markdown block can show a ```python block without it being run); an unclosed block
    runs to the end of the file, as in CommonMark.
    """
    lines = text.splitlines()
    index = 0
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        fence, indent, info, start = m["fence"], len(m["indent"]), m["info"], i
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and close["fence"][0] == fence[0]
                and len(close["fence"]) >= len(fence)
                and not close["info"]
            ):
                break
            line = lines[i]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(strip, indent) :])
            i += 1
        i += 1
        if info.split()[:1] == ["python"]:
            yield Block(path, start + 1, index, info, "\n".join(body) + "\n")
            index += 1


def run_block(block: Block) -> None:
    """Execute ``block`` as a fresh module whose line numbers match the Markdown file."""
    name = f"docs_example_{block.index}"
    module = types.ModuleType(name)
    module.__file__ = block.path
    # Padding with blank lines makes tracebacks name the Markdown line of each statement.
    code = compile("\n" * block.line + block.source, block.path, "exec")
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        exec(code, module.__dict__)
    finally:
        del sys.modules[name]


def _doc_blocks() -> list[Block]:
    blocks: list[Block] = []
    for md in sorted(DOCS.rglob("*.md")):
        blocks.extend(python_blocks(md.read_text(encoding="utf-8"), str(md.relative_to(ROOT))))
    return blocks


_BLOCKS = _doc_blocks()


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(
            b,
            id=f"{b.path}:{b.line}",
            marks=[] if b.runnable else [pytest.mark.skip(reason="fenced as no-run")],
        )
        for b in _BLOCKS
    ],
)
def test_docs_example_runs(block: Block) -> None:
    run_block(block)


# -- the runner itself ---------------------------------------------------------------------

SAMPLE = """\
# Title

```python
x = 1
assert x == 1
```

~~~python no-run
connect_to_the_network()
~~~

````markdown
```python
raise SystemExit("shown inside another fence, never run")
```
````

- In a list:

  ```python
  if True:
      y = 2
  ```

```yaml
python: no
```

```python
assert False, "unclosed block runs to the end"
"""


def test_runner_finds_python_blocks_and_their_lines() -> None:
    blocks = list(python_blocks(SAMPLE, "sample.md"))
    assert [(b.line, b.index, b.runnable) for b in blocks] == [
        (3, 0, True),
        (8, 1, False),
        (20, 2, True),
        (29, 3, True),
    ]
    assert blocks[0].source == "x = 1\nassert x == 1\n"
    assert blocks[2].source == "if True:\n    y = 2\n"


def test_runner_reports_the_markdown_line_of_a_failure() -> None:
    last = list(python_blocks(SAMPLE, "sample.md"))[-1]
    with pytest.raises(AssertionError, match="unclosed block") as exc:
        run_block(last)
    assert str(exc.traceback[-1].path) == "sample.md"
    assert exc.traceback[-1].lineno + 1 == 30


def test_runner_gives_each_block_a_fresh_namespace() -> None:
    first, _, listed, _ = python_blocks(SAMPLE, "sample.md")
    run_block(first)
    run_block(Block("fresh.md", 1, 0, "python", "assert 'x' not in globals()\n"))
    run_block(listed)


def test_runner_runs_blocks_that_define_dataclasses() -> None:
    source = (
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class P:\n"
        "    x: int\n"
        "assert P(1).x == 1\n"
    )
    run_block(Block("dc.md", 1, 0, "python", source))
