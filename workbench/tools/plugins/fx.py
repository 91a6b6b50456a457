"""A back-office FX quote service that is slow or flaky by configuration (to exercise the breaker).

Environment, read on every call: ``WB_FX_DELAY_S`` (seconds of latency, default 0),
``WB_FX_FAILURE_RATE`` (0..1, default 0), ``WB_FX_SEED`` (the failure stream's seed, default 0).
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any, Literal

from workbench.tools.spec import tool

__all__ = ["get_fx_quote"]

_RATES = {"USD": 7.12, "EUR": 7.74, "HKD": 0.91, "JPY": 0.047, "GBP": 9.05}
_lock = threading.Lock()
_rng: dict[str, random.Random] = {}


def _fails(rate: float) -> bool:
    seed = os.environ.get("WB_FX_SEED", "0")
    with _lock:
        rng = _rng.setdefault(seed, random.Random(int(seed)))
        return rng.random() < rate


@tool(version="1.0", idempotent=True,
      keywords={"en": ("exchange rate", "fx rate", "fx quote"), "zh": ("汇率", "牌价")},
      answer={"en": "Today's selling rate: 1 {currency} = RMB {rate}.",
              "zh": "今日售汇价：1 {currency} = {rate}元人民币。"})
def get_fx_quote(currency: Literal["USD", "EUR", "HKD", "JPY", "GBP"]) -> dict[str, Any]:
    """Today's selling rate of a foreign currency in RMB, from the back-office FX service.

    Args:
        currency: ISO code of the currency.
    """
    delay = float(os.environ.get("WB_FX_DELAY_S", "0"))
    if delay > 0:
        time.sleep(delay)
    if _fails(float(os.environ.get("WB_FX_FAILURE_RATE", "0"))):
        raise ConnectionError("FX back office unavailable (simulated)")
    return {"currency": currency, "rate": _RATES[currency]}
