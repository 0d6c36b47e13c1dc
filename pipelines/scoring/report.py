"""The scoring figures of a night, kept in state/scoring_summary.json for `crm run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.settings import Settings


def state_path(settings: Settings) -> Path:
    return settings.state_dir / "scoring_summary.json"


def write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_state(settings: Settings, dagster_run_id: str | None = None) -> dict[str, Any] | None:
    """The last scoring state, or None (absent, or written by another run)."""
    path = state_path(settings)
    if not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if dagster_run_id is not None and state.get("dagster_run_id") != dagster_run_id:
        return None
    return state


def mark_promoted(settings: Settings, dagster_run_id: str, promoted: bool) -> None:
    state = read_state(settings, dagster_run_id)
    if state is not None:
        state["promoted"] = promoted
        write_state(settings, state)


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def backtest_line(bt: dict[str, Any]) -> str:
    if bt.get("status") != "ok":
        return f"backtest:          skipped ({bt.get('message')})"
    bound = f"±{bt['max_abs_error_pct']:g} %"
    if not bt["bound_enforced"]:
        bound += " advisory"
    verdict = "passed" if bt.get("passed") else "FAILED"
    return (
        f"backtest:          {bt['holdout_weeks']}-week holdout, {bt['customers']:,} customers: "
        f"predicted {_num(bt['predicted_repeat_purchases'], ',.0f')} vs actual "
        f"{_num(bt['actual_repeat_purchases'], ',.0f')} repeat purchase days "
        f"({_num(bt['error_pct'], '+.1f')} %), MAE {_num(bt['mae'], '.3f')}, "
        f"Spearman {_num(bt['spearman_rho'], '.3f')} [bound {bound}: {verdict}]"
    )


def summary_lines(state: dict[str, Any] | None) -> list[str]:
    """Lines for the `crm run` summary (empty when scoring did not run)."""
    if not state:
        return []
    lines = []
    if state.get("status") == "scored":
        fits = ", ".join(
            f"{name} {'converged' if fit['converged'] else 'NOT converged'}"
            for name, fit in state.get("fits", {}).items()
        )
        lines.append(
            f"scoring:           {state['customers']:,} customers, run {state['model_run_id']}"
            f" ({fits})"
        )
    else:
        lines.append(f"scoring:           not fitted ({state.get('message')})")
    if state.get("backtest"):
        lines.append(backtest_line(state["backtest"]))
    if state.get("status") == "scored" and not state.get("promoted"):
        lines.append("scores:            NOT updated: a check failed, previous scores kept")
    return lines
