"""Corpora as compressed files and URLs (smart_open), for corpus_file, counting and the command line."""
import bz2
import functools
import gzip
import http.server
import lzma
import threading

import numpy as np
import pytest
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

from gensim_qwem import QWEM
from gensim_qwem.__main__ import main
from gensim_qwem.sources import is_remote

SMALL = dict(vector_size=4, min_count=5, workers=1, seed=1, epochs=1, sample=0)
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """lee_background.cor written plain and compressed each way, in one folder."""
    folder = tmp_path_factory.mktemp("corpora")
    text = open(datapath("lee_background.cor"), "rb").read()
    (folder / "lee.txt").write_bytes(text)
    for extension, opener in OPENERS.items():
        with opener(folder / f"lee.txt{extension}", "wb") as handle:
            handle.write(text)
    return folder


@pytest.fixture(scope="module")
def server(corpora):
    """A local HTTP server for the corpora folder; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(corpora))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


@pytest.mark.parametrize("extension", sorted(OPENERS))
def test_compressed_corpus_file_trains_and_counts_as_the_plain_one(corpora, extension):
    plain = QWEM(corpus_file=str(corpora / "lee.txt"), **SMALL)
    packed = QWEM(corpus_file=str(corpora / f"lee.txt{extension}"), **SMALL)
    assert packed.wv.index_to_key == plain.wv.index_to_key
    np.testing.assert_array_equal(packed.wv.vectors, plain.wv.vectors)   # workers=1: same seed, same steps
    counted = packed.count_statistics(corpus_file=str(corpora / f"lee.txt{extension}"))
    assert abs(counted.upper - plain.count_statistics(corpus_file=str(corpora / "lee.txt")).upper).max() == 0


def test_url_corpus_file_and_online_update(corpora, server):
    model = QWEM(corpus_file=f"{server}/lee.txt.gz", **SMALL)
    local = QWEM(corpus_file=str(corpora / "lee.txt"), **SMALL)
    np.testing.assert_array_equal(model.wv.vectors, local.wv.vectors)
    model.build_vocab(corpus_file=f"{server}/lee.txt.bz2", update=True)
    assert model.statistics.word_counts.sum() == 2 * local.statistics.word_counts.sum()
    with pytest.raises(OSError, match=r"corpus_file 'http://.*/missing.txt' cannot be read .*Check the URL"):
        QWEM(corpus_file=f"{server}/missing.txt", **SMALL)


def test_command_line_reads_compressed_and_remote_corpora(corpora, server, tmp_path, capsys):
    for corpus in (str(corpora / "lee.txt.xz"), f"{server}/lee.txt.gz"):
        vectors = tmp_path / "vectors.txt"
        assert main(["train", corpus, "--vectors", str(vectors), "--vector-size", "4", "--epochs", "1",
                     "--workers", "1"]) == 0
        assert vectors.read_text().split()[:2] == ["1762", "4"]
    assert main(["train", f"{server}/nothing.txt", "--vectors", str(tmp_path / "v.txt")]) != 0
    assert "cannot be read" in capsys.readouterr().err


def test_is_remote():
    assert is_remote("https://example.org/a.txt") and is_remote("s3://bucket/key.gz")
    assert not is_remote("/tmp/a.txt") and not is_remote("a.txt.gz") and not is_remote(None)
