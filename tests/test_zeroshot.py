"""Zero-shot multiple choice: our continuation task, the standard-file loader, likelihood scoring."""

import gzip
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lsa.data.text import ByteTokenizer
from lsa.data.zeroshot import ChoiceItem, continuation_task, load_multiple_choice
from lsa.prune.zeroshot import choice_accuracy, choice_logliks, zero_shot_accuracy

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()


def _docs(n=6, words=120, seed=0):
    rng = np.random.default_rng(seed)
    return [{"id": f"d{i}", "text": " ".join(rng.choice(WORDS, words)) + f" end{i}."} for i in range(n)]


def test_continuation_task_cuts_true_continuations_and_foreign_distractors():
    docs = _docs()
    text = {d["id"]: " ".join(d["text"].split()) for d in docs}
    items = continuation_task(docs, 40, n_choices=4, context_chars=40, continuation_chars=16, seed=3)
    assert len(items) == 40 and items == continuation_task(docs, 40, 4, 40, 16, seed=3)  # deterministic
    assert items != continuation_task(docs, 40, 4, 40, 16, seed=4)
    for it in items:
        assert len(it.context) == 40 and all(len(c) == 16 and c.startswith(" ") for c in it.choices)
        assert it.context + it.choices[it.label] in text[it.source]  # the true continuation follows the context
        assert len(set(it.choices)) == 4
        for j, c in enumerate(it.choices):
            if j != it.label:  # each distractor is a continuation cut from another document
                assert any(c in t for k, t in text.items() if k != it.source)
    assert len({it.label for it in items}) == 4  # the right answer's position varies


def test_continuation_task_rejects_what_it_cannot_build():
    with pytest.raises(ValueError, match="n_choices"):
        continuation_task(_docs(), 5, n_choices=1)
    with pytest.raises(ValueError, match="documents hold a passage"):
        continuation_task(_docs(n=3), 5, n_choices=4)  # 3 documents cannot give 3 foreign distractors
    with pytest.raises(ValueError, match="documents hold a passage"):
        continuation_task(_docs(words=5), 5, context_chars=96, continuation_chars=32)


def _write(path, rows, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


def test_loader_reads_the_published_layouts(tmp_path):
    hs = _write(
        tmp_path / "hellaswag_val.jsonl",
        [
            {
                "ind": 24,
                "activity_label": "Roof shingle removal",
                "ctx_a": "A man is sitting on a roof.",
                "ctx_b": "he",
                "ctx": "A man is sitting on a roof. he",
                "endings": ["is using wrap [title] to wrap a pair of skis.", "starts pulling up roofing.", "b", "c"],
                "label": "3",
                "split": "val",
            }
        ],
    )
    (it,) = load_multiple_choice(hs)
    assert it.context == "Roof shingle removal: A man is sitting on a roof. He" and it.label == 3
    assert it.choices[0] == " is using wrap. to wrap a pair of skis." and it.choices[1] == " starts pulling up roofing."
    piqa = _write(
        tmp_path / "piqa.jsonl.gz", [{"goal": "Open a jar", "sol1": "twist", "sol2": "sing", "label": 0}], gz=True
    )
    (it,) = load_multiple_choice(piqa)
    assert it.context == "Question: Open a jar\nAnswer:" and it.choices == (" twist", " sing") and it.label == 0
    arc_hf = {"id": "x", "question": "Which is a gas?", "choices": {"text": ["ice", "steam"], "label": ["A", "B"]}}
    arc_ai2 = {
        "question": {
            "stem": "Which is a gas?",
            "choices": [{"text": "ice", "label": "1"}, {"text": "steam", "label": "2"}],
        }
    }
    arc = _write(tmp_path / "arc.jsonl", [{**arc_hf, "answerKey": "B"}, {**arc_ai2, "answerKey": "2"}])
    a, b = load_multiple_choice(arc)
    assert a.context == b.context == "Question: Which is a gas?\nAnswer:" and a.label == b.label == 1
    assert a.choices == b.choices == (" ice", " steam")
    plain = _write(tmp_path / "plain.jsonl", [{"context": "c", "choices": [" x", " y", " z"], "label": 2}] * 5)
    assert len(load_multiple_choice(plain, limit=3)) == 3


def test_loader_names_the_bad_line_and_the_expected_fields(tmp_path):
    bad = _write(
        tmp_path / "bad.jsonl", [{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}, {"goal": "g", "sol1": "a"}]
    )
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a piqa item .*'sol2'"):
        load_multiple_choice(bad)
    with pytest.raises(ValueError, match="unknown multiple-choice layout"):
        load_multiple_choice(_write(tmp_path / "u.jsonl", [{"a": 1}]))
    with pytest.raises(ValueError, match="label must index"):
        load_multiple_choice(_write(tmp_path / "l.jsonl", [{"context": "c", "choices": [" x", " y"], "label": 2}]))
    with pytest.raises(FileNotFoundError):
        load_multiple_choice(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="fmt"):
        load_multiple_choice(bad, fmt="boolq")


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=256, n_positions=48, n_embd=32, n_layer=2, n_head=2)).eval()


def test_choice_logliks_equal_an_independent_loop_and_truncate_on_the_left():
    model, tok = _gpt2(), ByteTokenizer()
    items = [
        ChoiceItem("the cat sat on", (" the mat", " a dog!", " it"), 0),
        ChoiceItem("a much longer context that will not fit in the window at all, surely", (" yes", " no", " x"), 2),
    ]
    got = choice_logliks(model, items, tok.encode, seqlen=48, batch_size=2)
    with torch.no_grad():
        for i, it in enumerate(items):
            for j, ch in enumerate(it.choices):
                ids = tok.encode(it.context + ch)[-48:]
                n = len(ch.encode())
                logp = F.log_softmax(model(input_ids=ids[None]).logits[0], -1)
                ref = sum(float(logp[t - 1, ids[t]]) for t in range(len(ids) - n, len(ids)))
                assert got[i, j] == pytest.approx(ref, abs=1e-4)


class _Oracle(torch.nn.Module):
    """A 'model' that puts all its mass on byte ord('a') after any token: choices of only 'a's win."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids):
        logits = torch.full((*input_ids.shape, 256), -20.0)
        logits[..., ord("a")] = 20.0

        class Out:
            pass

        o = Out()
        o.logits = logits + self.w
        return o


def test_accuracy_is_exact_on_an_oracle_and_carries_a_wilson_interval():
    items = [ChoiceItem("q", (" bb", "aaa", " cc"), 1), ChoiceItem("q", ("aaa", " bb", " cc"), 1)]
    res = zero_shot_accuracy(_Oracle(), items * 5, ByteTokenizer().encode, seqlen=16)
    assert (res["k"], res["n"], res["acc"]) == (5, 10, 0.5)
    z, n = 1.959964, 10  # Wilson half-width at p = 1/2: z·sqrt(1/(4n) + z²/(4n²)) / (1 + z²/n); centre 1/2
    half = z * np.sqrt(0.25 / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert res["lo"] == pytest.approx(0.5 - half, abs=1e-5) and res["hi"] == pytest.approx(0.5 + half, abs=1e-5)
    with pytest.raises(ValueError, match="n_items"):
        choice_accuracy(np.zeros((3, 2)), [0, 1])


def test_the_book_task_comes_from_held_out_documents_only():
    from lsa.data.text import load_documents, split_documents
    from lsa.experiments.pruning_perplexity import zero_shot_tasks

    splits = split_documents(load_documents())
    test_ids = {str(d["id"]) for d in splits["test"]}
    items = zero_shot_tasks(50, seed=0)["continuation"]
    assert len(items) == 50 and {it.source for it in items} <= test_ids
    assert all(len(it.context) == 64 and all(len(c.encode()) == 32 for c in it.choices) for it in items)


def test_paired_difference_of_two_models_on_the_same_items():
    from lsa.prune.zeroshot import paired_difference

    a, b = [1, 1, 1, 0, 1, 0], [0, 1, 0, 0, 1, 1]
    res = paired_difference(a, b)
    d = np.array(a) - np.array(b)  # [1, 0, 1, 0, 0, -1]
    half = 1.959964 * d.std(ddof=1) / np.sqrt(6)
    assert res["diff"] == pytest.approx(1 / 6) and (res["a_only"], res["b_only"], res["n"]) == (2, 1, 6)
    assert res["lo"] == pytest.approx(1 / 6 - half, abs=1e-6) and res["hi"] == pytest.approx(1 / 6 + half, abs=1e-6)
    with pytest.raises(ValueError, match="equal-length"):
        paired_difference([1, 0], [1, 0, 1])
