"""Knowledge and memory vectors in a real Chroma server (a ``chroma run`` process this module starts).

Through the facade with the real embedder: a folder indexed with ``remote.chroma_url`` set is searched from
the server (whose own client sees the vectors, under this install's prefix, while nothing is written to
``data/chroma``); the stores check each other against the server as they do embedded; two installs share a
server without touching each other; a changed URL applies at once; a token and a path prefix reach a
proxy in front of the server, over TLS too; "Test connection" says what is wrong; memory lives in the
server; a server that dies mid-session is one clear sentence, in the facade and in the CLI.
"""

from __future__ import annotations

import copy
import json
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chroma_proxy import AuthProxy, self_signed_cert
from fakes import fake_engine

from assistant.benchmarks.remote import ChromaServer, free_port
from assistant.cli import main
from assistant.config import Settings, save_settings
from assistant.core import Assistant
from assistant.engine import Engine
from assistant.errors import InputError, RemoteError
from assistant.events import changes_text
from assistant.knowledge import KnowledgeBase
from assistant.knowledge.errors import DamagedIndexError
from assistant.memory.backend import collection_name
from assistant.paths import Paths, get_paths
from assistant.remote import ChromaTarget, install_id

TOKEN = "s3cret-token"


class Counting:
    """The real embedder, counting the texts it embeds (a repair must embed only what is missing)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.max_tokens, self.tokenizer = inner, inner.name, inner.max_tokens, inner.tokenizer
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def proxy(server: ChromaServer) -> Iterator[AuthProxy]:
    running = AuthProxy(server.url, TOKEN).start()
    yield running
    running.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "keys.txt").write_text("The spare key to the greenhouse hangs on a hook behind the shed door.\n")
    (root / "bread.md").write_text("# Bread\n\nSourdough needs a starter that is fed with flour every day.\n")
    (root / "bikes.txt").write_text("The bicycle tyres take 4.5 bar; the pump is in the hallway cupboard.\n")
    return root


@pytest.fixture
def open_assistant(knowledge_embedder) -> Iterator:
    opened: list[Assistant] = []

    def make(url: str = "", token: str = "", paths: Paths | None = None, memory: bool = False) -> Assistant:
        paths = (paths or get_paths()).ensure()
        settings = Settings()
        settings.memory.enabled = memory
        settings.remote.chroma_url, settings.remote.chroma_token = url, token
        save_settings(settings, paths.settings_file)
        kb = KnowledgeBase(paths, settings.knowledge, embedder=Counting(knowledge_embedder), remote=settings.remote)
        # memory's LLM slot takes the real engine class; storing and searching memories never loads a model
        opened.append(Assistant(paths, settings, engine=Engine() if memory else fake_engine(), knowledge=kb))
        return opened[-1]

    yield make
    for a in opened:
        a.close(learning_s=0)


def _index(a: Assistant, folder: Path, collection: str = "notes") -> None:
    assert list(a.index([folder], collection))[-1].message == "done"


def _top_file(a: Assistant, text: str, collection: str = "notes") -> str:
    """The best hit's file name, searched by words and meaning (not by words alone for want of vectors)."""
    hits = a.search(text, (collection,), k=3)
    assert not hits.only, hits.why
    return Path(hits[0].path).name


def _server_collections(url: str) -> dict[str, int]:
    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=chromadb.Settings(anonymized_telemetry=False))
    try:
        return {c.name: c.count() for c in client.list_collections()}
    finally:
        client.close()


def _change(a: Assistant, **remote: str):
    new = copy.deepcopy(a.settings)
    for name, value in remote.items():
        setattr(new.remote, name, value)
    return a.update_settings(new)


def test_a_folder_indexed_through_the_facade_is_searched_from_the_server(server, open_assistant, folder) -> None:
    a = open_assistant(server.url)
    _index(a, folder)
    assert _top_file(a, "Where is the greenhouse key?") == "keys.txt"
    assert _top_file(a, "how do I feed a sourdough starter") == "bread.md"
    name = f"hearth-{install_id(a.paths)}-notes"
    info = a.collections()[0]
    assert _server_collections(server.url)[name] == info.chunks > 0  # the server's own client sees them
    assert info.problem is None
    assert not a.paths.chroma_dir.exists()  # nothing went to the embedded store
    assert a.paths.index_manifest.exists()  # the manifest and keyword index stay local
    assert a.search("greenhouse", ("notes",), mode="keyword")


def test_the_stores_check_each_other_against_the_server_too(server, open_assistant, folder) -> None:
    a = open_assistant(server.url)
    _index(a, folder)
    embedder, chunks = a.knowledge.embedder, a.collections()[0].chunks
    name = a.knowledge.store.chroma_name("notes")
    host, port = server.url.removeprefix("http://").split(":")
    outside = chromadb.HttpClient(host=host, port=int(port), settings=chromadb.Settings(anonymized_telemetry=False))

    outside.delete_collection(name)  # the server lost them (a wiped server, another tool)
    problem = a.collections()[0].problem
    assert problem and server.url in problem and f"{chunks} of its {chunks} chunks have no vector" in problem
    with pytest.raises(DamagedIndexError, match="cannot be searched by meaning"):
        a.search("greenhouse key", ("notes",), mode="dense")
    assert "cannot be searched by meaning" in a.search("greenhouse key", ("notes",)).why
    before = embedder.texts
    _index(a, folder)  # the repair: re-embeds the stored chunk texts, nothing else
    assert embedder.texts - before == chunks
    assert a.collections()[0].problem is None and _top_file(a, "greenhouse key") == "keys.txt"

    with sqlite3.connect(a.paths.index_manifest) as db:  # a manifest restored from another time
        db.execute("UPDATE collections SET store_id = 'restored' WHERE name = 'notes'")
    problem = a.collections()[0].problem
    assert problem and "belongs to another index" in problem
    with pytest.raises(DamagedIndexError):
        a.search("greenhouse key", ("notes",), mode="dense")
    _index(a, folder)
    assert a.collections()[0].problem is None and _top_file(a, "greenhouse key") == "keys.txt"
    assert outside.get_collection(name).metadata["hearth_store_id"] == "restored"
    outside.close()


def test_two_installs_share_one_server_without_touching_each_other(server, open_assistant, folder,
                                                                   tmp_path) -> None:
    other_folder = tmp_path / "other"
    other_folder.mkdir()
    (other_folder / "boat.txt").write_text("The sailing boat is moored at pier seven; the oars are in the shed.\n")
    first = open_assistant(server.url, paths=Paths(tmp_path / "a" / "c", tmp_path / "a" / "d", tmp_path / "a" / "k"))
    second = open_assistant(server.url, paths=Paths(tmp_path / "b" / "c", tmp_path / "b" / "d", tmp_path / "b" / "k"))
    _index(first, folder)
    _index(second, other_folder)  # the same collection name, on the same server
    assert install_id(first.paths) != install_id(second.paths)
    assert _top_file(first, "where are the oars") != "boat.txt"
    assert _top_file(second, "where are the oars") == "boat.txt"
    second.remove_collection("notes")
    assert first.collections()[0].problem is None and _top_file(first, "greenhouse key") == "keys.txt"


def test_a_changed_chroma_url_applies_at_once(server, open_assistant, folder) -> None:
    a = open_assistant("")  # embedded
    _index(a, folder)
    assert _top_file(a, "greenhouse key") == "keys.txt"

    applied = _change(a, chroma_url=server.url)
    assert any(server.url in c for c in applied.changes)
    problem = a.collections()[0].problem  # the server does not hold this install's vectors yet
    assert problem and "does not hold this collection" in problem
    with pytest.raises(DamagedIndexError, match=server.url.replace(".", r"\.")):
        a.search("greenhouse key", ("notes",), mode="dense")
    filled = list(a.index([folder], "notes"))[-1]  # fills the server from the stored chunk texts, and says so (it
    # said "nothing changed" of minutes of embedding)
    assert changes_text(filled) == ("nothing changed; 3 passages of files already indexed embedded again, their "
                                    "vectors missing here")
    assert _top_file(a, "greenhouse key") == "keys.txt"
    assert f"hearth-{install_id(a.paths)}-notes" in _server_collections(server.url)

    _change(a, chroma_url="")  # back: the embedded store still has its vectors
    assert a.collections()[0].problem is None and _top_file(a, "greenhouse key") == "keys.txt"
    assert a.knowledge.store.server is None

    # files changed while the vectors are kept on the server: back here, the embedded vectors miss them, with the
    # counts alike (one file in, one out). It was "stores in step" in `hearth doctor` and "nothing changed" to
    # `hearth index`, while the new file could not be found by meaning
    _change(a, chroma_url=server.url)
    (folder / "bikes.txt").unlink()
    (folder / "boat.md").write_text("# Boat\n\nThe rowing boat is moored at the north jetty, ring 7.\n")
    _index(a, folder)
    _change(a, chroma_url="")
    problem = a.collections()[0].problem
    assert problem and f"while its vectors were kept in the Chroma server at {server.url}" in problem, problem
    _index(a, folder)  # compares the ids: the new file's vectors are made, the old one's dropped
    assert a.collections()[0].problem is None
    hits = a.search("where is the rowing boat moored", ("notes",), k=1, mode="dense")
    assert Path(hits[0].path).name == "boat.md"
    assert a.knowledge.store.chunk_ids("notes")[0] == a.knowledge.store.chunk_ids("notes")[1]


def test_a_token_and_a_path_reach_a_proxy_in_front_of_the_server(proxy, open_assistant, folder) -> None:
    a = open_assistant(proxy.url, TOKEN)
    check = a.test_remote("chroma")
    assert check.ok and "token accepted" in check.message and check.latency_ms is not None
    _index(a, folder)
    assert _top_file(a, "greenhouse key") == "keys.txt"

    no_token = a.test_remote("chroma", replace(a.settings.remote, chroma_token=""))
    assert not no_token.ok and "asks for a token" in no_token.message and proxy.url in no_token.message
    _change(a, chroma_token="wrong")  # applies now: the next call uses it, and is refused
    with pytest.raises(RemoteError, match="refused the token"):
        a.search("greenhouse key", ("notes",), mode="dense")
    assert "refused the token" in a.search("greenhouse key", ("notes",)).why
    _change(a, chroma_token=TOKEN)
    assert _top_file(a, "greenhouse key") == "keys.txt"


def test_tls_to_a_proxy_needs_a_trusted_certificate(server, open_assistant, folder, tmp_path, monkeypatch) -> None:
    made = self_signed_cert(tmp_path)
    if made is None:
        pytest.skip("no openssl command to make a certificate with")
    tls = AuthProxy(server.url, TOKEN, cert=made[0], key=made[1]).start()
    try:
        a = open_assistant(tls.url, TOKEN)
        untrusted = a.test_remote("chroma")
        assert not untrusted.ok and "does not trust" in untrusted.message
        monkeypatch.setenv("SSL_CERT_FILE", str(made[0]))  # the README's way to trust your own CA
        assert a.test_remote("chroma").ok
        _index(a, folder)
        assert _top_file(a, "greenhouse key") == "keys.txt"
    finally:
        tls.stop()


def test_test_connection_says_what_is_wrong(server, open_assistant, capsys) -> None:
    a = open_assistant()
    closed = f"http://127.0.0.1:{free_port()}"
    refused = a.test_remote("chroma", replace(a.settings.remote, chroma_url=closed))
    assert not refused.ok and refused.latency_ms is None
    assert closed in refused.message and "connection was refused" in refused.message
    not_chroma = a.test_remote("chroma", replace(a.settings.remote, chroma_url=server.url + "/nothing"))
    assert not not_chroma.ok and "HTTP 404" in not_chroma.message
    bad = a.test_remote("chroma", replace(a.settings.remote, chroma_url="chroma.lan:8000"))
    assert not bad.ok and "http://HOST:PORT" in bad.message
    assert not a.test_remote("chroma").ok  # none configured: said, not an error

    assert main(["remote", "test", "chroma", "--url", server.url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["part"] == "chroma" and out["latency_ms"] > 0
    # the README's exit codes: 6 for a part that cannot be reached, 2 for an unusable URL (every failure was 1)
    assert main(["remote", "test", "chroma", "--url", closed]) == 6
    assert "connection was refused" in capsys.readouterr().out
    assert main(["remote", "test", "chroma", "--url", "chroma.lan:8000"]) == 2
    assert "http://HOST:PORT" in capsys.readouterr().out
    assert main(["remote", "test", "warp-drive"]) == 2
    assert "Unknown remote part" in capsys.readouterr().err
    _change(a, chroma_url=server.url, chroma_token=TOKEN)
    assert main(["doctor", "--json"]) in (0, 1)  # 1 only for a problem elsewhere (the desktop's libraries)
    remote = [f for f in json.loads(capsys.readouterr().out) if f["area"] == "remote"]
    assert [f["status"] for f in remote] == ["ok"] and server.url in remote[0]["message"]
    assert main(["remote", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["chroma_url"] == server.url and shown["chroma_token"] == "set"  # never the secret itself


def test_memory_lives_in_the_server_and_follows_a_changed_url(proxy, server, open_assistant) -> None:
    a = open_assistant(proxy.url, TOKEN, memory=True)  # through the proxy: the token reaches mem0's client too
    a.memory.add("My dog is called Biscuit.")
    assert [m.text for m in a.memory.search("what is my dog's name?")] == ["My dog is called Biscuit."]
    name = f"hearth-{install_id(a.paths)}-{collection_name(a.knowledge.embedder).removeprefix('hearth-')}"
    assert _server_collections(server.url)[name] == 1
    assert not (a.paths.memory_dir / "chroma").exists()

    _change(a, chroma_url=server.url, chroma_token="")  # the same server without the proxy: reopened at once
    assert a._memory is None
    assert [m.text for m in a.memory.search("dog")] == ["My dog is called Biscuit."]


def test_what_is_said_while_the_server_is_down_is_learned_once_it_is_back(server, open_assistant) -> None:
    """Memory could not open while its Chroma server was down: the answer said so ("Answered without your memory")
    and the turn was never queued, so "My cat is called Tom." was never learned. It is queued on this computer
    and learned once the store opens."""
    from assistant.events import Notice
    from assistant.memory.queue import TurnQueue, queue_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"
    a = open_assistant(down, memory=True)
    events = list(a.ask("My cat is called Tom.", max_tokens=4))
    assert any(isinstance(e, Notice) and "Answered without your memory" in e.message for e in events)
    queue = TurnQueue(queue_path(a.paths))
    assert queue.counts()["pending"] == 1
    queue.close()
    _change(a, chroma_url=server.url)  # the server is back (here: another address)
    a.memory.process_pending()
    assert [m.text for m in a.memory.list()] == ["User's cat is called Tom"]


def test_a_server_that_died_is_one_clear_sentence(open_assistant, folder, tmp_path, capsys) -> None:
    dying = ChromaServer(tmp_path / "dying").start()
    try:
        a = open_assistant(dying.url, memory=True)
        _index(a, folder)
        a.memory.add("I live in Porto.")
    finally:
        dying.stop()
    with pytest.raises(RemoteError, match="connection was refused") as err:
        a.search("greenhouse key", ("notes",), mode="dense")
    assert dying.url in str(err.value)
    hits = a.search("greenhouse key", ("notes",))  # by words and meaning: by words, saying why
    assert hits and (hits.only, hits.why) == ("keyword", str(err.value))
    with pytest.raises(RemoteError, match=dying.url):
        list(a.index([folder], "notes"))
    with pytest.raises(RemoteError, match=dying.url):
        a.memory.search("where do I live")
    assert dying.url in (a.collections()[0].problem or "")  # listing still works: the manifest is here
    assert a.search("greenhouse", ("notes",), mode="keyword")  # and keyword search

    # the CLI: one line naming the server, the remote-part exit code, no traceback
    assert main(["search", "greenhouse key", "--collection", "notes", "--mode", "dense"]) == RemoteError.exit_code
    err_text = capsys.readouterr().err
    assert err_text.startswith("hearth: Cannot reach the Chroma server at " + dying.url)
    assert "Traceback" not in err_text and len(err_text.strip().splitlines()) == 1
    assert main(["search", "greenhouse key", "--collection", "notes"]) == 0  # found by its words, and said why
    out, err_text = capsys.readouterr()
    assert "keys.txt" in out and err_text.startswith("hearth: searched by keyword only: Cannot reach the Chroma "
                                                     "server at " + dying.url)
    # and `hearth doctor` says which part is down and what to do
    assert main(["doctor"]) == 1
    said = capsys.readouterr().out
    assert f"✗ remote: Cannot reach the Chroma server at {dying.url}" in said and "remote.chroma_url" in said


def test_chroma_urls_are_parsed_with_urllib_and_bad_ones_said() -> None:
    plain = ChromaTarget.parse("http://chroma.lan")
    assert (plain.host, plain.port, plain.ssl, plain.path) == ("chroma.lan", 8000, False, "")
    proxied = ChromaTarget.parse(" https://chroma.lan/chroma/ ", " tok ")
    assert (proxied.port, proxied.ssl, proxied.path, proxied.headers) == (443, True, "/chroma",
                                                                          {"Authorization": "Bearer tok"})
    assert proxied.api == "https://chroma.lan:443/chroma/api/v2" and "tok" not in repr(proxied)
    assert ChromaTarget.parse("http://[::1]:9000").api == "http://[::1]:9000/api/v2"
    assert ChromaTarget.from_settings(Settings().remote) is None  # empty: the embedded store
    for bad in ("chroma.lan:8000", "ftp://chroma.lan", "http://user:pw@chroma.lan", "http://chroma.lan:99999",
                "http://chroma.lan/?x=1", "https://"):
        with pytest.raises(InputError, match=r"remote\.chroma_url"):
            ChromaTarget.parse(bad)


def test_the_install_id_is_made_once_and_kept(tmp_path) -> None:
    paths = Paths(tmp_path / "c", tmp_path / "d", tmp_path / "k")
    first = install_id(paths)
    assert len(first) == 12 and install_id(paths) == first == (paths.data_dir / "install-id").read_text().strip()
    assert [p.name for p in paths.data_dir.iterdir()] == ["install-id"]  # no temporary file left
