from __future__ import annotations

import random

import pytest

from core.text import ELLIPSIS, FENCE, ellipsize, split_text


def words(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = ["grace", "hope", "faith", "a", "community", "practice", "reflection", "kindness"]
    out = []
    for i in range(n):
        word = rng.choice(vocab)
        out.append(word + ("." if i % 11 == 10 else ""))
        if i % 40 == 39:
            out.append("\n\n")
    return " ".join(out)


def squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("limit", [40, 75, 2000, 3000, 12000])
@pytest.mark.parametrize("size", [0, 10, 500, 5000, 30000])
def test_pieces_fit_and_nothing_is_lost(limit: int, size: int) -> None:
    text = words(size, seed=size + limit)
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert squash("".join(pieces)) == squash(text)
    if len(text.strip()) <= limit:
        assert pieces == ([text.strip()] if text.strip() else [])


def test_exactly_at_the_limit_is_one_piece_and_one_more_is_two() -> None:
    text = "a" * 1999 + "."
    assert split_text(text, 2000) == [text]
    two = split_text(text + " b", 2000)
    assert two == [text, "b"]


def test_prefers_paragraphs_then_sentences() -> None:
    first = "First paragraph sentence one. " * 20
    second = "Second paragraph. " * 20
    pieces = split_text(first.strip() + "\n\n" + second.strip(), 700)
    assert pieces[0] == first.strip()
    sentence_cut = split_text("One sentence here. " * 100, 300)
    assert all(p.endswith(".") for p in sentence_cut)


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    pieces = split_text("x" * 250, 100)
    assert pieces == ["x" * 100, "x" * 100, "x" * 50]


def test_code_fences_stay_balanced_in_every_piece() -> None:
    code = "\n".join(f"print({i})" for i in range(400))
    text = f"Here is code:\n\n```python\n{code}\n```\n\nAnd after it, a closing line."
    pieces = split_text(text, 500)
    assert len(pieces) > 3
    for piece in pieces:
        assert len(piece) <= 500
        assert piece.count(FENCE) % 2 == 0
    assert pieces[1].startswith("```python\n")
    assert squash("".join(pieces)).count("print(") == 400


def test_tiny_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_text("hello", 10)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 75, "short"),
        ("x" * 75, 75, "x" * 75),
        ("x" * 76, 75, "x" * 74 + ELLIPSIS),
        (
            "The Practical Guide to Grace in Everyday Life and Work",
            30,
            "The Practical Guide to Grace…",
        ),
        ("  spaced \n out  ", 20, "spaced out"),
    ],
)
def test_ellipsize(text: str, limit: int, expected: str) -> None:
    result = ellipsize(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_an_unclosed_fence_from_the_model_is_closed() -> None:
    text = "Try this:\n```\n" + "x = 1\n" * 30
    pieces = split_text(text, 100)
    assert all(len(p) <= 100 and p.count(FENCE) % 2 == 0 for p in pieces)
