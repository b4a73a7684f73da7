"""PNG charts of a simulated day (matplotlib's Agg backend: no display, no browser)."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
import numpy as np  # noqa: E402


def draw(report: dict[str, Any], out: Path) -> list[Path]:
    title = _title(report)
    return [
        _orders_by_hour(report["hourly"], title, out / "orders_by_hour.png"),
        _histogram(
            report["service"].get("_assign_minutes", []),
            title,
            "minutes from ready to a driver's accept",
            "orders",
            out / "assignment_latency.png",
        ),
        _histogram(
            [c / 100 for c in report["earnings"].get("_per_hour", [])],
            title,
            "earnings per engaged hour ($, from the ledger)",
            "drivers",
            out / "earnings.png",
        ),
    ]


def _title(report: dict[str, Any]) -> str:
    run = report["run"]
    batching = "batching" if run["batching"] else "no batching"
    return f"{run['city']} seed {run['seed']}: {run['policy']}, {batching}"


def _orders_by_hour(hourly: dict[str, list], title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    x = np.arange(len(hourly["hour"]))
    for k, (name, color) in enumerate(
        (("created", "#4c78a8"), ("delivered", "#59a14f"), ("cancelled", "#e15759"))
    ):
        ax.bar(x + (k - 1) * 0.28, hourly[name], width=0.28, label=name, color=color)
    ax.set_xticks(x, hourly["hour"], rotation=45, fontsize=8)
    ax.set_ylabel("orders")
    ax.set_title(f"Orders by hour ({title})", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _histogram(values: list[float], title: str, xlabel: str, ylabel: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    if values:
        ax.hist(values, bins=30, color="#4c78a8")
        for q, style in ((50, "-"), (90, "--")):
            ax.axvline(float(np.percentile(values, q)), color="#333", linestyle=style, lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
