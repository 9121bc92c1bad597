# Hearth: two commands do all set-up on a fresh machine.
#   make run    create .venv, install, put the bundled models in place, launch the app
#   make test   the same set-up, then the whole test suite
#   make bench  the same set-up, then the benchmarks (results in bench/results/*.json)
#   make package  the installable app: dist/hearth/ (PyInstaller one-folder) and dist/hearth-*.tar.zst, then its
#               checks (tests/packaging); make package-bench measures it against the source install
# Every step is stamped, so a second run only does what changed (llama-cpp-python is never rebuilt:
# pip caches the wheel it built). For a GPU build: CMAKE_ARGS="-DGGML_CUDA=on" make reinstall-llama

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
MODELS := resources/models
CHAT_MODEL := $(MODELS)/SmolLM2-135M-Instruct.Q4_1.gguf
SECOND_MODEL := $(MODELS)/gemma-3-270m-q4_k_m.gguf
export HF_HUB_OFFLINE := 1

.PHONY: setup run test bench lint models reinstall-llama clean package package-bench

setup: $(STAMPS)/install models

$(STAMPS)/venv:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel
	@mkdir -p $(STAMPS) && touch $@

# torch first, pinned: it takes the local CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
$(STAMPS)/torch: $(STAMPS)/venv
	$(BIN)/pip install -q torch==2.13.0
	@touch $@

$(STAMPS)/install: $(STAMPS)/torch pyproject.toml
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q -e '.[dev]'
	@touch $@

models: $(CHAT_MODEL) $(SECOND_MODEL)

$(CHAT_MODEL): $(STAMPS)/venv packaging/fetch_models.py
	$(BIN)/python packaging/fetch_models.py chat $(MODELS)

$(SECOND_MODEL): $(STAMPS)/venv packaging/fetch_models.py
	$(BIN)/python packaging/fetch_models.py second $(MODELS)

run: setup
	$(BIN)/python -m assistant.doctor.qt && $(BIN)/hearth

# llama.cpp's llama-server, built once (minutes) from the llama.cpp vendored in the installed llama-cpp-python,
# into Hearth's cache folder: the remote-LLM tests answer through it. A failed build only skips those tests.
$(STAMPS)/llama-server: $(STAMPS)/install
	$(BIN)/python -m assistant.benchmarks.native_tools llama-server \
		|| echo "llama-server could not be built: the remote-LLM tests will be skipped"
	@touch $@

# One worker per core, each kept to its own core (tests/conftest.py); a test file stays on one worker, so its
# module fixtures (a server, a loaded model) start once.
test: setup $(STAMPS)/llama-server
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n auto --dist loadfile --durations=15

bench: setup
	$(BIN)/hearth bench engine
	$(BIN)/hearth bench speculative
	$(BIN)/hearth bench index
	$(BIN)/hearth bench retrieval
	$(BIN)/hearth bench memory
	$(BIN)/hearth bench memory --model gemma
	$(BIN)/hearth bench startup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.bench_ui

# The packaged app (packaging/README.md). The build machine needs Qt's X11 libraries installed: the package
# carries copies of them (a bare Debian/Ubuntu lacks libxcb-cursor0 & co.), so PyInstaller must find them here.
$(STAMPS)/package: $(STAMPS)/install
	$(BIN)/pip install -q -e '.[dev,package]'
	@touch $@

package: setup $(STAMPS)/package
	@$(BIN)/python -c "from assistant.doctor.qt import check; c = check({'QT_QPA_PLATFORM': 'xcb', 'DISPLAY': ':0'}); \
		print(c.message(), 'make package: the package brings these along, so the build machine needs them.') if c.missing else None; \
		raise SystemExit(1 if c.missing else 0)"
	nice -n 10 $(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/hearth.spec
	nice -n 10 $(BIN)/python packaging/archive.py
	$(BIN)/python -m pytest -q -m package tests/packaging

package-bench: $(STAMPS)/package
	$(BIN)/python packaging/measure.py

lint: setup
	$(BIN)/ruff check assistant app tests packaging

reinstall-llama: $(STAMPS)/torch
	$(BIN)/pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python==0.3.36

clean:
	rm -rf $(VENV) $(MODELS)/*.gguf
