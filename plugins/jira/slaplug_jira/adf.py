"""Atlassian Document Format (ADF), the body format of comments in REST API v3: just enough.

slaplug writes plain text (rendered rule templates) and reads text back only to find its
own idempotency markers and to show comments, so two functions suffice: text to a ``doc``
of paragraphs, and any ADF node back to its text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["adf_text", "text_to_adf"]


def text_to_adf(text: str, *, marker: str | None = None) -> dict[str, Any]:
    """A plain text as an ADF document.

    Blank lines separate paragraphs; single newlines become ``hardBreak`` nodes.

    Args:
        text: The text.
        marker: Appended as a last paragraph of its own (slaplug's idempotency marker), so
            it survives edits to the text above and is easy to find again.

    Returns:
        ``{"type": "doc", "version": 1, "content": [paragraph, ...]}``.
    """
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if marker:
        blocks.append(marker)
    return {"type": "doc", "version": 1, "content": [_paragraph(b) for b in blocks]}


def _paragraph(block: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for i, line in enumerate(block.strip("\n").split("\n")):
        if i:
            content.append({"type": "hardBreak"})
        if line:
            content.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": content}


def adf_text(node: Any) -> str:
    """The text of an ADF node (or of a plain string, as v2 and Data Center return).

    Paragraph-like blocks are separated by newlines; marks and attributes are dropped.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return str(node)
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = adf_text(node.get("content") or [])
    if kind in ("paragraph", "heading", "codeBlock", "blockquote", "listItem"):
        return inner + "\n"
    return inner
