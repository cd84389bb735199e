"""Zero-shot multiple-choice tasks: our continuation task built from held-out documents, and a loader for the
JSON-lines files of the standard multiple-choice tasks (HellaSwag, PIQA, ARC) for users who have them.

Every task is a list of :class:`ChoiceItem`: a context, candidate continuations and the index of the right one.
A model answers by likelihood: the candidate whose tokens get the highest summed log-probability after the
context (the ``acc`` metric of the Wanda and SparseGPT evaluations; :mod:`lsa.prune.zeroshot` scores it).

**Our task** (:func:`continuation_task`): from documents the model never saw, cut a passage, split it at a word
boundary into a context and its true continuation, and draw the distractors from the continuations of passages
of *other* held-out documents, each starting at a word boundary and with exactly as many characters. It is
our construction, not one of the paper's tasks; its chance level is ``1 / n_choices``.

**Standard files** (:func:`load_multiple_choice`): one JSON object per line, in the layout of the public
releases that lm-evaluation-harness reads, with the harness's prompt for each: HellaSwag
(``ctx``/``ctx_a``/``ctx_b``, ``activity_label``, ``endings``, ``label``), PIQA (``goal``, ``sol1``, ``sol2``,
``label``), ARC (``question`` as a string with ``choices: {text, label}`` and ``answerKey``, or the AllenAI
release's ``question: {stem, choices: [{text, label}]}``), and a plain ``{context, choices, label}``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from lsa.data.text import iter_jsonl

FORMATS = ("hellaswag", "piqa", "arc", "plain")


@dataclass(frozen=True)
class ChoiceItem:
    """One multiple-choice item: the model scores ``context + choices[i]`` for each ``i``; ``label`` is right.

    The choices carry their own leading separator (a space), so the scored text is a plain concatenation.
    """

    context: str
    choices: tuple[str, ...]
    label: int
    source: str = ""

    def __post_init__(self):
        if len(self.choices) < 2:
            raise ValueError(f"an item needs at least 2 choices, got {len(self.choices)}")
        if not (isinstance(self.label, int) and 0 <= self.label < len(self.choices)):
            raise ValueError(f"label must index the {len(self.choices)} choices, got {self.label!r}")


def _normalise(text: str) -> str:
    return " ".join(text.split())


def continuation_task(
    docs: list[dict],
    n_items: int,
    n_choices: int = 4,
    context_chars: int = 96,
    continuation_chars: int = 32,
    seed: int = 0,
) -> list[ChoiceItem]:
    """Our zero-shot task: pick the true continuation of a held-out passage among ``n_choices`` candidates.

    Each document's text is whitespace-normalised and only its ASCII passages are used (one byte per
    character, so every candidate has the same length in bytes). A passage starts at a word boundary; its
    context is ``context_chars`` characters ending just before a space; the true continuation is the next
    ``continuation_chars`` characters (starting with that space). Each distractor is a continuation of the
    same length and shape cut from a different document. The right answer's position is drawn uniformly.

    Parameters
    ----------
    docs : list of dict
        Held-out documents (``{"id", "text"}``); at least ``n_choices`` of them must be long enough.
    n_items : int
        Number of items, ≥ 1.
    n_choices : int
        Candidates per item, ≥ 2 (chance accuracy is ``1 / n_choices``).
    context_chars, continuation_chars : int
        Lengths in characters (= bytes); ``context_chars + continuation_chars`` must fit the model's window.
    seed : int
        Seed of the passage, distractor and position draws.

    Raises
    ------
    ValueError
        On bad sizes, or when fewer than ``n_choices`` documents hold a passage of the required length.
    """
    if n_items < 1 or n_choices < 2 or context_chars < 1 or continuation_chars < 2:
        raise ValueError(
            f"need n_items ≥ 1, n_choices ≥ 2, context_chars ≥ 1, continuation_chars ≥ 2; got {n_items}, "
            f"{n_choices}, {context_chars}, {continuation_chars}"
        )
    need = context_chars + continuation_chars + 1
    texts = {}
    for d in docs:
        t = _normalise(d["text"])
        spaces = [m.start() for m in re.finditer(" ", t)]
        starts = [s + 1 for s in spaces if s + 1 + need <= len(t)]
        if starts:
            texts[d["id"]] = (t, starts)
    if len(texts) < n_choices:
        raise ValueError(
            f"only {len(texts)} documents hold a passage of {need} characters; {n_choices} choices need at least "
            f"{n_choices} documents"
        )
    ids = sorted(texts)
    rng = random.Random(seed)

    def cut(doc_id: str, context: bool):
        t, starts = texts[doc_id]
        for _ in range(200):
            s = rng.choice(starts)
            # the split point: the first space at or after s + context_chars (word boundary)
            k = t.find(" ", s + context_chars) if context else t.find(" ", s)
            if k < 0 or k + continuation_chars > len(t):
                continue
            ctx, cont = t[max(s, k - context_chars) : k], t[k : k + continuation_chars]
            if ctx.isascii() and cont.isascii() and len(cont) == continuation_chars:
                return ctx, cont
        return None

    items, attempts = [], 0
    while len(items) < n_items:
        attempts += 1
        if attempts > 50 * n_items:
            raise ValueError(f"could not cut {n_items} ASCII items from {len(ids)} documents (got {len(items)})")
        true_id = rng.choice(ids)
        got = cut(true_id, context=True)
        if got is None:
            continue
        ctx, cont = got
        others = rng.sample([i for i in ids if i != true_id], n_choices - 1)
        distractors = [cut(o, context=False) for o in others]
        if any(x is None for x in distractors):
            continue
        choices = [x[1] for x in distractors]
        if cont in choices:
            continue
        label = rng.randrange(n_choices)
        choices.insert(label, cont)
        items.append(ChoiceItem(context=ctx, choices=tuple(choices), label=label, source=str(true_id)))
    return items


def _hellaswag_clean(text: str) -> str:
    # lm-evaluation-harness hellaswag preprocessing: strip, " [title]" -> ". ", drop [bracketed] tags, "  " -> " "
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def _item(obj: dict, fmt: str, where: str) -> ChoiceItem:
    try:
        if fmt == "hellaswag":
            if "ctx_a" in obj:
                ctx = obj["ctx_a"] + " " + obj["ctx_b"].capitalize()
            else:
                ctx = obj["ctx"]
            context = _hellaswag_clean(obj.get("activity_label", "") + ": " + ctx if "activity_label" in obj else ctx)
            choices = [" " + _hellaswag_clean(e) for e in obj["endings"]]
            label = int(obj["label"])
        elif fmt == "piqa":
            context = f"Question: {obj['goal']}\nAnswer:"
            choices = [" " + obj["sol1"], " " + obj["sol2"]]
            label = int(obj["label"])
        elif fmt == "arc":
            q = obj["question"]
            if isinstance(q, dict):  # AllenAI release
                stem, texts = q["stem"], [c["text"] for c in q["choices"]]
                keys = [c["label"] for c in q["choices"]]
            else:  # Hugging Face layout
                stem, texts, keys = q, list(obj["choices"]["text"]), list(obj["choices"]["label"])
            context = f"Question: {stem}\nAnswer:"
            choices = [" " + t for t in texts]
            label = keys.index(obj["answerKey"])
        else:
            context, choices, label = obj["context"], list(obj["choices"]), int(obj["label"])
        return ChoiceItem(context=context, choices=tuple(choices), label=label, source=where)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{where}: not a {fmt} item ({type(exc).__name__}: {exc}); expected {_FIELDS[fmt]}") from None


_FIELDS = {
    "hellaswag": "'ctx' (or 'ctx_a' and 'ctx_b'), 'endings' (list) and 'label'",
    "piqa": "'goal', 'sol1', 'sol2' and 'label' (0 or 1)",
    "arc": "'question' (string with 'choices': {text, label}, or {stem, choices}) and 'answerKey'",
    "plain": "'context', 'choices' (list) and 'label'",
}


def detect_format(obj: dict) -> str:
    """The format of one JSON object by its keys (one of :data:`FORMATS`); ``ValueError`` if none fits."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "endings" in obj:
        return "hellaswag"
    if "sol1" in obj and "goal" in obj:
        return "piqa"
    if "answerKey" in obj:
        return "arc"
    if "context" in obj and "choices" in obj:
        return "plain"
    raise ValueError(f"unknown multiple-choice layout with keys {sorted(obj)}; expected one of {_FIELDS}")


def load_multiple_choice(path: str | Path, fmt: str = "auto", limit: int | None = None) -> list[ChoiceItem]:
    """Read a multiple-choice task from a JSON-lines(.gz) file.

    Parameters
    ----------
    path : path-like
        One JSON object per line (see the module docstring for the layouts).
    fmt : {"auto", "hellaswag", "piqa", "arc", "plain"}
        ``auto`` detects the layout from the first line.
    limit : int, optional
        Read at most this many items (the harness's ``limit``).

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        Unknown format, a line that is not JSON or lacks the fields of its format (names file and line), or an
        empty file.
    """
    path = Path(path)
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"fmt must be 'auto' or one of {FORMATS}, got {fmt!r}")
    if not path.is_file():
        raise FileNotFoundError(f"multiple-choice task file {path} does not exist")
    items = []
    for n, obj in iter_jsonl(path):
        where = f"{path}:{n}"
        if fmt == "auto":
            try:
                fmt = detect_format(obj)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        items.append(_item(obj, fmt, where))
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise ValueError(f"multiple-choice task file {path} holds no items")
    return items
