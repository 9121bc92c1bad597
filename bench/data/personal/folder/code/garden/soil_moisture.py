"""Soil moisture logger for the allotment greenhouse (plot 17B).

Raspberry Pi Zero 2 W + ADS1115 ADC + capacitive soil sensor on channel A0, solar-powered.
Reads every 30 minutes, appends to a CSV, and sends a push notification to my phone
when the soil is dry enough to need watering (once per day at most).
"""
import csv
import time
from datetime import datetime, date
from pathlib import Path

import board
import busio
import requests
from adafruit_ads1x15.ads1115 import ADS1115
from adafruit_ads1x15.analog_in import AnalogIn

# Calibration, done 23 Feb 2025: sensor in dry air and in a glass of water.
DRY_RAW = 26000         # reading in dry air
WET_RAW = 11500         # reading submerged in water
WATER_BELOW_PERCENT = 35   # notify when moisture drops below this
READ_INTERVAL_SECONDS = 30 * 60
LOG_FILE = Path("/home/pi/soil/readings.csv")
NOTIFY_URL = "https://notify.example/plot17b-water"   # push topic on my phone

_last_alert: date | None = None


def raw_to_percent(raw: int) -> float:
    """Map a raw ADC value to 0-100 % moisture (higher raw = drier for capacitive sensors)."""
    pct = (DRY_RAW - raw) / (DRY_RAW - WET_RAW) * 100
    return max(0.0, min(100.0, round(pct, 1)))


def read_sensor(chan: AnalogIn, samples: int = 5) -> int:
    """Median of a few readings; the cheap sensors are noisy."""
    values = sorted(chan.value for _ in range(samples))
    return values[len(values) // 2]


def maybe_alert(pct: float) -> None:
    global _last_alert
    if pct >= WATER_BELOW_PERCENT or _last_alert == date.today():
        return
    requests.post(NOTIFY_URL, data=f"Plot 17B greenhouse soil at {pct}% - water the tomatoes", timeout=10)
    _last_alert = date.today()


def main() -> None:
    i2c = busio.I2C(board.SCL, board.SDA)
    chan = AnalogIn(ADS1115(i2c), 0)
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    while True:
        raw = read_sensor(chan)
        pct = raw_to_percent(raw)
        with LOG_FILE.open("a", newline="") as fh:
            csv.writer(fh).writerow([datetime.now().isoformat(timespec="minutes"), raw, pct])
        maybe_alert(pct)
        time.sleep(READ_INTERVAL_SECONDS)


if __name__ == "__main__":
    main()
