"""Tests of the text snapshot and of the WikiText-2 / C4 loaders on files written here in their formats."""

import gzip
import json

import pytest
import torch

from lsa.data.c4 import c4_validation_ids, load_c4
from lsa.data.checksums import ChecksumError, sha256_file, verify
from lsa.data.text import ByteTokenizer, join_documents, load_documents, sentences, split_documents
from lsa.data.text_snapshot import _clean
from lsa.data.wikitext import load_wikitext2, wikitext_eval_text


def test_snapshot_is_checksummed_large_and_splits_by_document():
    path = verify("text/docs.jsonl.gz")
    assert path.stat().st_size <= 5_000_000
    docs = load_documents()
    assert sum(len(d["text"]) for d in docs) >= 2_000_000
    sp = split_documents(docs)
    ids = {k: {d["id"] for d in v} for k, v in sp.items()}
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["validation"])
    assert sum(len(v) for v in ids.values()) == len(docs)
    assert all(len(v) > 0 for v in ids.values())
    # a document's split does not depend on the other documents
    sub = split_documents(docs[::3])
    for k in sub:
        assert {d["id"] for d in sub[k]} <= ids[k]
    assert len(sentences(sp["test"])) > 200


def test_corrupt_or_bad_snapshot_is_reported(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  text/docs.jsonl.gz\n")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "docs.jsonl.gz").write_bytes(b"x")
    with pytest.raises(ChecksumError, match="corrupt"):
        verify("text/docs.jsonl.gz", tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": ""}\n')
    with pytest.raises(ValueError, match="non-empty 'text'"):
        load_documents(bad)
    with pytest.raises(ValueError, match="fractions"):
        split_documents([{"id": "a", "text": "b"}], (0.5, 0.5, 0.5))


def test_byte_tokenizer_roundtrip_and_clean_drops_doctests():
    tok = ByteTokenizer()
    text = "Größe — naïve café\n\nx"
    ids = tok.encode(text)
    assert ids.dtype == torch.long and int(ids.max()) < 256 and tok.decode(ids) == text
    cleaned = _clean("Compute it.\n\n>>> f(1)\n2\n\nMore   prose.\n=====\n")
    assert ">>>" not in cleaned and "\n2" not in cleaned and "More prose." in cleaned and "===" not in cleaned
    assert join_documents([{"text": "a"}, {"text": "b"}]) == "a\n\nb"


WIKI_RAW = " \n = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 is a game @-@ played .\n \n = = Plot = = \n"


def test_wikitext_raw_file_and_folder(tmp_path):
    folder = tmp_path / "wikitext-2-raw"
    folder.mkdir()
    (folder / "wiki.test.raw").write_text(WIKI_RAW, encoding="utf-8")
    lines = load_wikitext2(folder / "wiki.test.raw")
    # the Hugging Face builder: blank lines -> "", others keep their newline
    assert lines == [
        "",
        " = Valkyria Chronicles III = \n",
        "",
        " Senjō no Valkyria 3 is a game @-@ played .\n",
        "",
        " = = Plot = = \n",
    ]
    assert load_wikitext2(tmp_path, "test") == lines
    text = wikitext_eval_text(lines)
    assert text.startswith("\n\n = Valkyria") and text.count("Senjō") == 1
    with pytest.raises(ValueError, match="split"):
        load_wikitext2(folder, "dev")
    with pytest.raises(FileNotFoundError, match="wiki.valid"):
        load_wikitext2(folder, "validation")
    (folder / "wiki.train.raw").write_text(" \n \n")
    with pytest.raises(ValueError, match="no text"):
        load_wikitext2(folder, "train")


def test_c4_shard_format(tmp_path):
    shard = tmp_path / "c4-train.00000-of-01024.json.gz"
    docs = [
        {
            "text": f"Document {i}. " + "word " * (10 * i + 1),
            "timestamp": "2019-04-25T12:57:54Z",
            "url": f"https://example.com/{i}",
        }
        for i in range(5)
    ]
    with gzip.open(shard, "wt", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d) + "\n")
    texts = load_c4(shard)
    assert texts == [d["text"] for d in docs]
    assert load_c4(shard, max_docs=2) == texts[:2]
    tok = ByteTokenizer()
    ids = c4_validation_ids(texts, tok.encode, seqlen=8, n_docs=2, n_windows=3)
    assert torch.equal(ids, tok.encode(texts[0] + " " + texts[1])[:24])
    bad = tmp_path / "bad.json"
    bad.write_text('{"text": "ok"}\n{"txt": 1}\n')
    with pytest.raises(ValueError, match=r"bad.json:2"):
        load_c4(bad)
    with pytest.raises(FileNotFoundError):
        load_c4(tmp_path / "missing.json.gz")
    assert sha256_file(shard)  # readable


def test_wikitext_parquet_layout_reads_like_the_raw_file(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    raw = tmp_path / "wiki.test.raw"
    raw.write_text(WIKI_RAW, encoding="utf-8")
    lines = load_wikitext2(raw)
    folder = tmp_path / "hf" / "wikitext-2-raw-v1"
    folder.mkdir(parents=True)
    # the Hugging Face release: one parquet file per split, a single 'text' column, one row per line
    pq.write_table(pa.table({"text": lines}), folder / "test-00000-of-00001.parquet")
    assert load_wikitext2(tmp_path / "hf", "test") == lines
    assert wikitext_eval_text(load_wikitext2(folder / "test-00000-of-00001.parquet")) == wikitext_eval_text(lines)
