"""Status bar: model (and its loading state), device, context used/size as a meter, last answer's speed."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar


class StatusBar(QStatusBar):
    def __init__(self) -> None:
        super().__init__()
        self.setSizeGripEnabled(False)
        self.model = QLabel("Starting…")
        self.model.setAccessibleName("Model")
        self.device = QLabel()
        self.device.setAccessibleName("Device")
        self.meter = QProgressBar()
        self.meter.setObjectName("ContextMeter")
        self.meter.setAccessibleName("Context used")
        self.meter.setRange(0, 1)
        self.meter.setTextVisible(False)
        self.meter.setValue(0)
        self.context = QLabel()
        self.speed = QLabel()
        self.speed.setAccessibleName("Last answer speed")
        self.addWidget(self.model)
        self.addWidget(self.device)
        self.addPermanentWidget(self.speed)
        self.addPermanentWidget(self.meter)
        self.addPermanentWidget(self.context)

    def set_model(self, text: str, tooltip: str = "") -> None:
        self.model.setText(text)
        self.model.setToolTip(tooltip)

    def set_device(self, device: str) -> None:
        self.device.setText(device)

    def set_context(self, used: int, size: int) -> None:
        self.meter.setRange(0, max(size, 1))
        self.meter.setValue(min(used, max(size, 1)))
        self.context.setText(f"context {used:,} / {size:,}")
        self.meter.setToolTip(f"{used:,} of {size:,} context tokens in use")

    def set_speed(self, tokens_per_s: float, ttft_s: float) -> None:
        self.speed.setText(f"{tokens_per_s:.1f} tok/s · TTFT {ttft_s * 1000:.0f} ms")
