"""``hearth serve`` as a real process: a busy port, ``--show-token``, and a server on the network that answers
and stops cleanly on Ctrl+C. Never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def _hearth(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=_env(home), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_busy_port_is_one_clear_line_and_a_failure(hearth_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _hearth("serve", "--port", str(port), home=hearth_home)
    assert run.returncode != 0
    assert run.stderr.strip() == (f"hearth: port {port} is already in use (by another program); "
                                  "choose another with --port")
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_show_token_makes_one_and_keeps_it(hearth_home: Path) -> None:
    first = _hearth("serve", "--show-token", home=hearth_home)
    assert first.returncode == 0 and first.stderr == ""
    token = first.stdout.strip()
    assert len(token) >= 32
    assert _hearth("serve", "--show-token", home=hearth_home).stdout.strip() == token
    assert token in (hearth_home / "config" / "settings.toml").read_text()


def saved_token(settings: Path) -> str:
    text = settings.read_text()
    return text.split('token = "')[1].split('"')[0] if 'token = "' in text else ""


def served_id(base: str, token: str) -> str:
    models = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return models.json()["data"][0]["id"] if models.status_code == 200 else ""


@pytest.mark.slow
def test_serve_on_the_network_answers_and_stops_on_ctrl_c(hearth_home: Path) -> None:
    (hearth_home / "config").mkdir(parents=True)
    (hearth_home / "config" / "settings.toml").write_text("[memory]\nenabled = false\n[model]\nn_ctx = 1024\n")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--host", "0.0.0.0", "--port", str(port),
                             "--parallel", "2"], cwd=ROOT, env=_env(hearth_home), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(line.startswith("Ctrl+C") for line in lines):
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        assert "reachable from the network" in text and "needs the token" in text, text
        assert f"Hearth API on http://127.0.0.1:{port}/v1" in text and "2 in parallel" in text, text
        assert "curl " in text and "Bearer $(hearth serve --show-token)" in text, text
        token = (hearth_home / "config" / "settings.toml").read_text().split('token = "')[1].split('"')[0]
        assert token not in text  # the token is never printed unless asked for

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        models = httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {token}"})
        assert models.status_code == 200 and models.json()["data"][0]["id"].startswith("SmolLM2")
        # bound to every address: this computer's own name is a Host the server answers to
        named = httpx.get(f"{base}/health", headers={"Host": f"{socket.gethostname()}:{port}"})
        assert named.status_code == 200
        # `hearth models use` in another terminal switches the running server's model (it answered with the
        # old one until a restart)
        assert _hearth("models", "use", "gemma", home=hearth_home).returncode == 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not served_id(base, token).startswith("gemma"):
            time.sleep(0.5)
        assert served_id(base, token).startswith("gemma")
        # deleting the token in the file (the README's way to get a new one) restarts the server with a new
        # token: `hearth serve` took the restart for a stop and exited
        settings = hearth_home / "config" / "settings.toml"
        settings.write_text("".join(line for line in settings.read_text().splitlines(keepends=True)
                                    if not line.startswith("token = ")))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (new_token := saved_token(settings)):
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not served_id(base, new_token):
            time.sleep(0.2)
        assert new_token != token and served_id(base, new_token).startswith("gemma") and not served_id(base, token)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # the switch is said in the server's log (it was silent; only a problem was said)
    assert "note: the settings file changed: " in err and "Gemma 3 270M" in err, err


def _serving(home: Path, port: int, *options: str) -> subprocess.Popen[str]:
    """`hearth serve` on ``port``, once it says it is listening."""
    proc = subprocess.Popen([sys.executable, "-m", "app", *options, "serve", "--port", str(port)], cwd=ROOT,
                            env=_env(home),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline, line = time.monotonic() + 90, "-"
    while time.monotonic() < deadline and line and not line.startswith("Ctrl+C"):
        line = proc.stderr.readline()
    return proc


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("quit_signal", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_quit_signal_mid_stream_tells_the_client_and_exits_cleanly(hearth_home: Path, quit_signal: str) -> None:
    """Ctrl+C, a service manager's stop and a closed terminal (SIGHUP: the SSH session running `hearth serve`
    dropped) end the server alike. SIGHUP's default action ended it at once (return code -1): the streaming
    client's answer just stopped, with neither the `answer_interrupted` error nor `[DONE]`."""
    if not hasattr(signal, quit_signal):
        pytest.skip(f"{quit_signal} does not exist on this system")
    (hearth_home / "config").mkdir(parents=True)
    (hearth_home / "config" / "settings.toml").write_text("[memory]\nenabled = false\n[model]\nn_ctx = 1024\n")
    token = _hearth("serve", "--show-token", home=hearth_home).stdout.strip()
    port = _free_port()
    proc = _serving(hearth_home, port)
    body = {"messages": [{"role": "user", "content": "Write a very long story about a dragon."}], "max_tokens": 600,
            "temperature": 0, "stream": True}
    lines: list[str] = []
    try:
        with httpx.stream("POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as response:
            for line in response.iter_lines():
                if line.startswith('data: {"id"') and not lines:  # the answer has started
                    proc.send_signal(getattr(signal, quit_signal))
                lines += [line] if line else []
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert '"code":"answer_interrupted"' in lines[-1] and "data: [DONE]" not in lines, lines[-3:]
    assert proc.returncode == 0 and "Traceback" not in err, (proc.returncode, err)


def test_a_served_conversation_reads_its_cache_back_after_the_server_restarts(hearth_home: Path) -> None:
    """An API client continuing a Hearth conversation (`conversation_id`) after `hearth serve` restarted waited
    for the whole conversation to be read again. Its cache is saved when the server stops and read back (the
    server answers in parallel slots by default); usage says how many prompt tokens came from the cache, as
    OpenAI's own prompt caching does."""
    from openai import OpenAI

    (hearth_home / "config").mkdir(parents=True)
    (hearth_home / "config" / "settings.toml").write_text("[memory]\nenabled = false\n[model]\nn_ctx = 1024\n")
    token = _hearth("serve", "--show-token", home=hearth_home).stdout.strip()
    notes = "My notes: " + " ".join(f"shelf {i} holds {i * 7} jars of honey." for i in range(40))
    port = _free_port()
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token, max_retries=0)

    def ask(question: str, conversation: str) -> tuple[str, int, int]:
        reply = client.chat.completions.create(model="hearth", messages=[{"role": "user", "content": question}],
                                               max_tokens=8, temperature=0,
                                               extra_body={"conversation_id": conversation})
        return (reply.model_extra["conversation_id"], reply.usage.prompt_tokens,
                reply.usage.prompt_tokens_details.cached_tokens)

    proc = _serving(hearth_home, port)
    try:
        conversation, first_tokens, cached = ask(notes, "new")
        assert first_tokens > 256 and cached == 0
    finally:
        _stop(proc)
    assert len(list((hearth_home / "cache" / "prompts").glob("*.kv"))) == 1
    proc = _serving(hearth_home, port)
    try:
        same, prompt_tokens, cached = ask("And on shelf 5?", conversation)
        assert same == conversation and cached >= first_tokens and prompt_tokens - cached < 64
    finally:
        _stop(proc)


def test_the_server_log_says_what_memory_learned_from_a_served_chat(hearth_home: Path) -> None:
    """What memory learns from chats asked through the API is said in the server's log as it is learned (kept
    for the end, a long-running server's list only grew)."""
    from openai import OpenAI

    token = _hearth("serve", "--show-token", home=hearth_home).stdout.strip()
    port = _free_port()
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token, max_retries=0)
    proc = _serving(hearth_home, port)
    try:
        said = "Please remember: my dog is called Biscuit."
        client.chat.completions.create(model="hearth", max_tokens=8, temperature=0,
                                       messages=[{"role": "user", "content": said}],
                                       extra_body={"conversation_id": "new", "use_memory": True})
        assert proc.stderr is not None
        deadline, line = time.monotonic() + 120, "-"
        while time.monotonic() < deadline and line and "(remembered:" not in line:
            line = proc.stderr.readline()
        assert line.strip() == "(remembered: User's dog is called Biscuit)", line
        assert proc.poll() is None
        # an answer says which memories it was given, as `hearth ask --json` and the window do (it did not)
        asked = {"model": "hearth", "max_tokens": 8, "temperature": 0, "extra_body": {"use_memory": True},
                 "messages": [{"role": "user", "content": "What is my dog called?"}]}
        answer = client.chat.completions.create(**asked)
        assert [m["memory"] for m in answer.model_extra["memories"]] == ["User's dog is called Biscuit"]
        last = list(client.chat.completions.create(**asked, stream=True))[-1]
        assert [m["memory"] for m in last.model_extra["memories"]] == ["User's dog is called Biscuit"]
    finally:
        _stop(proc)


def test_a_verbose_server_logs_each_request_and_why_one_was_refused(hearth_home: Path) -> None:
    """`hearth -v serve` said nothing per request: a 401 or a 400 was seen only by the client, and a developer
    wiring a tool to it could not tell what it sent wrong."""
    port = _free_port()
    proc = _serving(hearth_home, port, "-v")
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/models").status_code == 401
        token = _hearth("serve", "--show-token", home=hearth_home).stdout.strip()
        refused = httpx.post(f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                             json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 0})
        assert refused.status_code == 400
    finally:
        err = _stop(proc)
    assert '"GET /v1/models HTTP/1.1" 401' in err and "refused with 401 invalid_api_key: " in err, err
    assert '"POST /v1/chat/completions HTTP/1.1" 400' in err, err
    assert "refused with 400 invalid_request_error: Invalid request: max_tokens: " in err, err
