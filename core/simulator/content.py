"""Deterministic answer content: markdown text, sources, suggestions and chat titles.

Everything here is a pure function of its arguments and the :class:`random.Random` it is
handed, so the engine can reproduce an answer exactly from ``seed``, ``chat_id`` and the
turn number. Sources point at ``*.example`` domains (reserved by RFC 2606): they look
real in a chat client but can never be mistaken for, or resolve to, a real article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

MAX_SOURCES = 5
SUGGESTION_COUNT = 3
MIN_ANSWER_WORDS = 60
MAX_ANSWER_WORDS = 200

_WORD_RE = re.compile(r"[^\W_][\w'’\-]*")
_CHUNK_WORD_RE = re.compile(r"\s*\S+\s*")

# Words that never make a topic. A word string reads better than a 170-line list.
_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once
    only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves tell explain please help know think want
    need get give show describe best way ways really thing things much many also
    something anything someone im i'm i’m ive i've dont don't cant can't whats what's
    hows how's
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Publisher:
    name: str
    domain: str
    section: str


#: Simulated content partners. Domains are under the reserved ``.example`` TLD.
PUBLISHERS: tuple[Publisher, ...] = (
    Publisher("Northwind Press", "northwind-press.example", "articles"),
    Publisher("Harbor Light Media", "harborlight.example", "stories"),
    Publisher("Cedar & Stone Publishing", "cedarandstone.example", "library"),
    Publisher("Open Field Institute", "openfield-institute.example", "research"),
    Publisher("Lantern House", "lanternhouse.example", "guides"),
    Publisher("Riverbend Review", "riverbend-review.example", "essays"),
    Publisher("Summit Research Group", "summit-research.example", "reports"),
    Publisher("Kindred Books", "kindredbooks.example", "excerpts"),
)

_AUTHORS = (
    "Maya Thompson",
    "Daniel Okafor",
    "Grace Liu",
    "Samuel Ortiz",
    "Hannah Reid",
    "Jonah Whitaker",
    "Priya Natarajan",
    "Elena Marsh",
    "Marcus Bell",
    "Ruth Adebayo",
)

_LEADS = (
    "**Here's a clear way to think about {topic}.**",
    "**A helpful overview of {topic}**",
    "**Let's look at {topic} step by step.**",
    "**Great question — {topic} is worth exploring carefully.**",
    "**In short: {topic} grows best with intention and patience.**",
)

_BRIDGES = (
    "here is how it connects to {topic}.",
    "let's take the conversation a step further with {topic}.",
    "this answer adds a new angle on {topic}.",
    "the same principles apply to {topic}.",
)

_SENTENCES = (
    "At its heart, {topic} is less about quick fixes and more about steady, intentional "
    "practice over time.",
    "Many people find that {topic} becomes clearer when they look at the bigger picture "
    "instead of a single moment.",
    "Trusted voices on {topic} tend to agree on a few core principles, even when the "
    "details differ.",
    "It helps to start small with {topic}, notice what works, and build from there.",
    "Context matters: what {topic} looks like in one season of life can look quite "
    "different in another.",
    "Community plays a big role, because {topic} is easier to sustain alongside people who "
    "encourage you.",
    "Research and lived experience both suggest that consistency beats intensity when it "
    "comes to {topic}.",
    "A good first step is to name what you hope {topic} will change, so you can recognise "
    "progress when it happens.",
    "Reflection, honest conversation, and patience all help {topic} take root.",
    "Setbacks are normal; what matters most with {topic} is returning to it with grace.",
)

_BULLETS = (
    "**Start with clarity:** decide what {topic} means for you right now.",
    "**Build a rhythm:** set aside a regular time instead of waiting for the perfect moment.",
    "**Invite others in:** a friend, mentor, or small group can keep you encouraged.",
    "**Keep it practical:** choose one concrete action you can take this week.",
    "**Reflect often:** notice what is working and adjust what isn't.",
    "**Be patient:** meaningful change with {topic} usually takes time.",
    "**Learn from trusted sources:** books, articles, and teachers can deepen your understanding.",
)

_CLOSINGS = (
    "If you'd like, I can suggest a simple plan to get started.",
    "Would you like a few resources to explore {topic} further?",
    "Let me know which part you'd like to dig into next.",
    "I'm happy to go deeper on any of these points.",
)

_SUGGESTIONS = (
    "How can I apply {topic} in my daily life?",
    "What are common misconceptions about {topic}?",
    "Can you recommend resources on {topic}?",
    "How do I get started with {topic}?",
    "What does research say about {topic}?",
    "How can I talk with others about {topic}?",
    "What are the first three steps toward {topic}?",
    "How has thinking about {topic} changed over time?",
)

_SOURCE_TITLES = (
    "{Topic}: A Practical Guide",
    "What We Can Learn About {Topic}",
    "Five Questions About {Topic}",
    "{Topic} in Everyday Life",
    "Rethinking {Topic}",
    "The State of {Topic} Today",
    "A Beginner's Companion to {Topic}",
    "Finding Your Way Through {Topic}",
)

_SNIPPETS = (
    "This piece walks through the key ideas behind {topic} and offers practical next steps.",
    "Drawing on interviews and research, the author explores how {topic} shapes daily life.",
    "A concise look at {topic}, with reflection questions for individuals and groups.",
    "The article surveys common approaches to {topic} and where they agree.",
    "Stories from real communities illustrate what {topic} can look like in practice.",
)


# The words of our own suggestion templates never make a topic either, so asking a
# suggestion ("How has thinking about grace changed over time?") stays on "grace".
_TEMPLATE_WORDS = frozenset(
    word.lower() for template in _SUGGESTIONS for word in _WORD_RE.findall(template)
) - {"topic"}


def extract_topic(query: str, *, max_words: int = 3) -> str:
    """A short noun phrase for ``query``: its first few content words, or a neutral fallback."""
    words = _WORD_RE.findall(query)
    picked: list[str] = []
    for index, word in enumerate(words):
        bare = word.strip("'’-")
        if not bare or bare.lower() in _STOPWORDS or bare.lower() in _TEMPLATE_WORDS:
            continue
        keep_case = any(c.isupper() for c in bare[1:]) or (index > 0 and bare[0].isupper())
        picked.append(bare if keep_case else bare.lower())
        if len(picked) == max_words:
            break
    return " ".join(picked) if picked else "your question"


def title_case(phrase: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in phrase.split())


def quote_question(question: str, *, limit: int = 80) -> str:
    """An earlier question, made safe to put inside ``*...*`` emphasis on one line."""
    text = " ".join(question.replace("*", "").replace("_", " ").replace("`", "").split())
    text = text.rstrip("?!.;: ")
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
        text = cut.rstrip(",;: ") + "…"
    return text or "your earlier question"


def word_count(text: str) -> int:
    return len(text.split())


def compose_answer(rng: Random, query: str, previous_questions: Sequence[str]) -> str:
    """A markdown answer of 60–200 words: a bold lead line, one or two paragraphs, a list.

    From the second turn on the answer opens its first paragraph by recalling the most
    recent earlier question, which shows that the chat remembers.
    """
    topic = extract_topic(query)
    lead = rng.choice(_LEADS).format(topic=topic)
    memory = ""
    if previous_questions:
        bridge = rng.choice(_BRIDGES).format(topic=topic)
        memory = f"Earlier you asked about *{quote_question(previous_questions[-1])}*; "
        memory += f"building on that, {bridge}"
        if len(previous_questions) >= 2:
            memory += f" This is question {len(previous_questions) + 1} in our conversation."
    sentences = rng.sample(_SENTENCES, 5)
    first = " ".join(s.format(topic=topic) for s in sentences[: rng.randint(2, 3)])
    second = " ".join(s.format(topic=topic) for s in sentences[3 : 3 + rng.randint(1, 2)])
    use_second = rng.random() < 0.6
    bullets = [b.format(topic=topic) for b in rng.sample(_BULLETS, rng.randint(3, 4))]
    closing = rng.choice(_CLOSINGS).format(topic=topic) if rng.random() < 0.7 else ""

    def render(with_second: bool, with_closing: bool, bullet_count: int) -> str:
        paragraphs = [lead, f"{memory} {first}".strip()]
        if with_second:
            paragraphs.append(second)
        paragraphs.append("\n".join(f"- {b}" for b in bullets[:bullet_count]))
        if with_closing and closing:
            paragraphs.append(closing)
        return "\n\n".join(paragraphs)

    text = render(use_second, True, len(bullets))
    # Keep the answer within a realistic length, whatever the topic or memory line adds.
    for with_second, with_closing, count in (
        (False, True, len(bullets)),
        (False, False, len(bullets)),
        (False, False, 3),
    ):
        if word_count(text) <= MAX_ANSWER_WORDS:
            break
        text = render(with_second, with_closing, count)
    for with_second, with_closing in ((True, True), (True, False)):
        if word_count(text) >= MIN_ANSWER_WORDS:
            break
        text = render(with_second, with_closing, len(bullets))
    return text


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a word boundary when possible."""
    if limit <= 0 or len(text) <= limit:
        return text
    if limit == 1:
        return "…"
    room = text[: limit - 1]
    cut = room.rsplit(None, 1)[0] if " " in room or "\n" in room else room
    if len(cut) < limit // 2:
        cut = room
    return cut.rstrip() + "…"


def split_chunks(text: str, words_per_chunk: int) -> list[str]:
    """Split ``text`` into pieces of ``words_per_chunk`` words; ``"".join`` gives it back."""
    tokens = _CHUNK_WORD_RE.findall(text)
    if not tokens:
        return [text] if text else []
    return [
        "".join(tokens[i : i + words_per_chunk]) for i in range(0, len(tokens), words_per_chunk)
    ]


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "item"


def publisher_for(name: str) -> Publisher:
    """The catalogue entry for ``name`` (case-insensitive), or a synthesised one."""
    for publisher in PUBLISHERS:
        if publisher.name.lower() == name.strip().lower():
            return publisher
    return Publisher(name.strip(), f"{slugify(name)}.example", "articles")


def compose_sources(
    rng: Random,
    query: str,
    *,
    count: int,
    publishers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``count`` (at most :data:`MAX_SOURCES`) distinct sources about the query's topic.

    With ``publishers`` given every source comes from one of them; otherwise they are
    spread over the catalogue, so consecutive sources rarely share a publisher.
    """
    count = max(0, min(count, MAX_SOURCES))
    if count == 0:
        return []
    topic = extract_topic(query)
    topic_title = title_case(topic)
    wanted = [p for p in dict.fromkeys(p.strip() for p in publishers) if p]
    pool = [publisher_for(p) for p in wanted] if wanted else list(PUBLISHERS)
    order = rng.sample(pool, len(pool))
    titles = rng.sample(_SOURCE_TITLES, count)
    sources: list[dict[str, Any]] = []
    for index, template in enumerate(titles):
        publisher = order[index % len(order)]
        title = template.format(Topic=topic_title)
        sources.append(
            {
                "title": title,
                "url": (
                    f"https://{publisher.domain}/{publisher.section}/"
                    f"{slugify(title)}-{rng.randint(1000, 9999)}"
                ),
                "publisher": publisher.name,
                "author": rng.choice(_AUTHORS),
                "snippet": rng.choice(_SNIPPETS).format(topic=topic),
            }
        )
    return sources


def compose_suggestions(rng: Random, query: str) -> list[str]:
    """Exactly :data:`SUGGESTION_COUNT` distinct follow-up questions."""
    topic = extract_topic(query)
    return [s.format(topic=topic) for s in rng.sample(_SUGGESTIONS, SUGGESTION_COUNT)]


def chat_title(first_question: str) -> str:
    topic = extract_topic(first_question)
    if topic == "your question":
        return "User Starts A Conversation"
    return f"User Asks About {title_case(topic)}"
