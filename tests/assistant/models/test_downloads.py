"""Downloads for real, over HTTP, against a local server on 127.0.0.1 that answers like the Hub."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from checks import wait_for
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import OfflineModeIsEnabled

from assistant.errors import InputError
from assistant.models import ChecksumMismatchError, DownloadCancelledError, DownloadError, InsufficientDiskSpaceError
from assistant.models.downloads import PARTIALS_DIR, DownloadProgress, download_model

REPO, FILE = "hearth-test/Tiny-GGUF", "tiny-test.gguf"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def offline_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hearth's default (apply_privacy_defaults); small chunks so a ~260 KB file arrives in many pieces."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)


@pytest.fixture
def served(fake_hub, tiny_gguf: Path) -> bytes:
    data = tiny_gguf.read_bytes()
    fake_hub.add(REPO, FILE, data)
    return data


def _partials(models: Path) -> list[Path]:
    return sorted((models / PARTIALS_DIR).glob("*")) if (models / PARTIALS_DIR).exists() else []


def test_download_verifies_and_moves_into_the_library_with_progress(fake_hub, served: bytes, tmp_path: Path) -> None:
    models = tmp_path / "models"
    seen: list[DownloadProgress] = []
    result = download_model(REPO, FILE, models, endpoint=fake_hub.url, on_progress=seen.append)
    assert result.path == models / FILE and result.path.read_bytes() == served
    assert result.verified and result.sha256 == hashlib.sha256(served).hexdigest() and result.resumed_from == 0
    assert seen and seen[-1].downloaded == seen[-1].total == len(served) and seen[-1].fraction == 1.0
    assert seen[-1].speed > 0 and seen[-1].eta_s == 0
    assert _partials(models) == []
    assert constants.HF_HUB_OFFLINE is True  # lifted for the download only


def test_offline_switch_is_lifted_only_inside_the_download(fake_hub, served: bytes, tmp_path: Path) -> None:
    url = hf_hub_url(REPO, FILE, endpoint=fake_hub.url)
    with pytest.raises(OfflineModeIsEnabled):
        get_hf_file_metadata(url)
    download_model(REPO, FILE, tmp_path / "models", endpoint=fake_hub.url)
    with pytest.raises(OfflineModeIsEnabled):
        get_hf_file_metadata(url)


def test_dropped_connection_resumes_with_a_range_request(fake_hub, served: bytes, tmp_path: Path) -> None:
    fake_hub.drop_after = 3 * 16 * 1024 + 100  # three whole chunks reach the disk, then the line drops
    result = download_model(REPO, FILE, tmp_path / "models", endpoint=fake_hub.url)
    assert result.path.read_bytes() == served
    assert fake_hub.gets() == [None, f"bytes={3 * 16 * 1024}-"]


def test_cancelled_download_keeps_its_part_and_the_next_call_resumes(fake_hub, served: bytes, tmp_path: Path) -> None:
    models, cancel = tmp_path / "models", threading.Event()
    fake_hub.stall_after = 4 * 16 * 1024
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(download_model, REPO, FILE, models, endpoint=fake_hub.url, cancel=cancel)
        assert fake_hub.stalled.wait(10)
        assert wait_for(lambda: sum(p.stat().st_size for p in _partials(models)) == 4 * 16 * 1024, 10, 0.01)
        cancel.set()
        fake_hub.release.set()
        with pytest.raises(DownloadCancelledError, match="resumes"):
            first.result(10)
    [part] = _partials(models)
    assert part.read_bytes() == served[: 4 * 16 * 1024] and not (models / FILE).exists()
    result = download_model(REPO, FILE, models, endpoint=fake_hub.url)
    assert result.resumed_from == 4 * 16 * 1024 and result.path.read_bytes() == served
    assert fake_hub.gets()[-1] == f"bytes={4 * 16 * 1024}-"
    assert _partials(models) == []


def test_a_sha256_the_user_insists_on_must_agree_with_the_hub(fake_hub, served: bytes, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(ChecksumMismatchError, match="nothing was downloaded"):
        download_model(REPO, FILE, models, endpoint=fake_hub.url, sha256="0" * 64)
    assert not (models / FILE).exists() and _partials(models) == [] and fake_hub.gets() == []


def test_the_hubs_sha256_wins_over_a_wrong_catalog_pin(fake_hub, served: bytes, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    result = download_model(REPO, FILE, tmp_path / "models", endpoint=fake_hub.url, pinned_sha256="0" * 64)
    assert result.verified and result.sha256 == hashlib.sha256(served).hexdigest()
    assert "differs from the Hub's" in caplog.text


def test_a_catalog_pin_is_used_when_the_hub_gives_no_sha256(fake_hub, tiny_gguf: Path, tmp_path: Path) -> None:
    fake_hub.add(REPO, FILE, tiny_gguf.read_bytes(), etag="1" * 40)  # a git blob id: not an LFS sha256
    models = tmp_path / "models"
    with pytest.raises(ChecksumMismatchError, match="deleted"):
        download_model(REPO, FILE, models, endpoint=fake_hub.url, pinned_sha256="0" * 64)
    assert not (models / FILE).exists() and _partials(models) == []
    pin = hashlib.sha256(tiny_gguf.read_bytes()).hexdigest()
    assert download_model(REPO, FILE, models, endpoint=fake_hub.url, pinned_sha256=pin).verified


def test_bytes_that_do_not_match_the_hubs_lfs_sha256_are_rejected(fake_hub, tiny_gguf: Path, tmp_path: Path) -> None:
    fake_hub.add(REPO, FILE, tiny_gguf.read_bytes(), etag="f" * 64)  # the Hub's sha256 of the file it meant
    models = tmp_path / "models"
    with pytest.raises(ChecksumMismatchError):
        download_model(REPO, FILE, models, endpoint=fake_hub.url)
    assert not (models / FILE).exists() and _partials(models) == []


def test_no_disk_space_is_reported_before_anything_is_written(fake_hub, served: bytes, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(InsufficientDiskSpaceError, match="nothing was written"):
        download_model(REPO, FILE, models, endpoint=fake_hub.url, free_space=lambda _p: 1000)
    assert not models.exists()
    assert [method for method, _path, _range in fake_hub.requests] == ["HEAD"]


def test_a_file_that_is_not_gguf_is_deleted(fake_hub, tmp_path: Path) -> None:
    fake_hub.add(REPO, "fake.gguf", b"<html>not a model</html>" * 100)
    models = tmp_path / "models"
    with pytest.raises(DownloadError, match="not a usable model"):
        download_model(REPO, "fake.gguf", models, endpoint=fake_hub.url)
    assert not (models / "fake.gguf").exists() and _partials(models) == []


def test_missing_file_and_non_gguf_names_fail_clearly(fake_hub, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"has no file missing\.gguf"):
        download_model(REPO, "missing.gguf", tmp_path, endpoint=fake_hub.url)
    with pytest.raises(InputError, match=r"not a \.gguf"):  # the name is unusable: exit 2, not a failed download
        download_model(REPO, "README.md", tmp_path, endpoint=fake_hub.url)
    assert fake_hub.gets() == []


def test_an_existing_model_is_not_downloaded_again(fake_hub, served: bytes, tmp_path: Path) -> None:
    download_model(REPO, FILE, tmp_path / "models", endpoint=fake_hub.url)
    with pytest.raises(DownloadError, match="already in the library"):
        download_model(REPO, FILE, tmp_path / "models", endpoint=fake_hub.url)
    assert len(fake_hub.gets()) == 1


def test_cli_download_goes_into_the_library_and_lists(fake_hub, served: bytes, hearth_home: Path) -> None:
    """`hearth models download` end to end, in a fresh process that starts offline like Hearth always does."""
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": fake_hub.url}

    def hearth(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", "models", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    out = hearth("download", REPO, FILE, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verified"] and Path(data["path"]) == hearth_home / "data" / "models" / FILE
    assert "MB/s" in out.stderr
    rows = json.loads(hearth("list", "--json").stdout)
    assert {r["file"]: r["source"] for r in rows}[FILE] == "library"
    again = hearth("download", REPO, FILE)
    assert again.returncode == 5 and "hearth: tiny-test.gguf is already in the library" in again.stderr
    assert "Traceback" not in again.stderr
